package io.checkpointd.linux.ptrace;

import java.util.Arrays;

/**
 * x86_64 {@code struct user_regs_struct} ({@code <sys/user.h>}, 27 × 8 bytes) as a {@code long[]} with the
 * fields' indices as constants, so callers need no JNA structure.
 */
public final class UserRegs {
    public static final int R15 = 0, R14 = 1, R13 = 2, R12 = 3, RBP = 4, RBX = 5, R11 = 6, R10 = 7, R9 = 8, R8 = 9,
            RAX = 10, RCX = 11, RDX = 12, RSI = 13, RDI = 14, ORIG_RAX = 15, RIP = 16, CS = 17, EFLAGS = 18, RSP = 19,
            SS = 20, FS_BASE = 21, GS_BASE = 22, DS = 23, ES = 24, FS = 25, GS = 26;
    /** Number of registers in the struct. */
    public static final int COUNT = 27;
    /** {@code sizeof(struct user_regs_struct)} */
    public static final int SIZE = COUNT * 8;

    private final long[] r;

    public UserRegs(long[] values) {
        if (values.length != COUNT) throw new IllegalArgumentException("need " + COUNT + " registers");
        this.r = values.clone();
    }

    public long get(int index) {
        return r[index];
    }

    public UserRegs set(int index, long value) {
        r[index] = value;
        return this;
    }

    public long rip() {
        return r[RIP];
    }

    public long rsp() {
        return r[RSP];
    }

    public long rax() {
        return r[RAX];
    }

    public long origRax() {
        return r[ORIG_RAX];
    }

    /** A copy of all 27 values in struct order. */
    public long[] toArray() {
        return r.clone();
    }

    public UserRegs copy() {
        return new UserRegs(r);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof UserRegs u && Arrays.equals(r, u.r);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(r);
    }

    @Override
    public String toString() {
        return String.format("UserRegs[rip=%x rsp=%x rax=%x orig_rax=%x]", r[RIP], r[RSP], r[RAX], r[ORIG_RAX]);
    }
}
