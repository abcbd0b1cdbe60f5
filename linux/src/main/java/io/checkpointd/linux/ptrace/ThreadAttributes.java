package io.checkpointd.linux.ptrace;

import java.util.List;

/**
 * What CRIU's {@code thread_core} and {@code thread_info} hold of a thread besides its registers, as far as it can
 * be read from outside the process with the thread in ptrace-stop (CRIU reads some of it from inside, through its
 * parasite). Fields that cannot be read from outside (sigaltstack, pdeath signal, credentials, seccomp, cgroups)
 * are not here: the engine takes them from a base thread ({@code primary.engine.threads.ThreadModel}).
 *
 * @param comm          {@code /proc/PID/task/TID/comm} without the newline (CRIU: {@code prctl(PR_GET_NAME)})
 * @param schedPolicy   {@code sched_getscheduler(tid)}, {@code SCHED_RESET_ON_FORK} included as CRIU stores it
 * @param schedPriority {@code sched_getparam(tid)} for SCHED_FIFO/SCHED_RR, else -1 (CRIU leaves it unset)
 * @param nice          {@code getpriority(PRIO_PROCESS, tid)} as a nice value (-20..19)
 * @param robustHead    {@code get_robust_list(tid)}: the list head, 0 if none was set
 * @param robustLen     and its length
 * @param rseq          {@code PTRACE_GET_RSEQ_CONFIGURATION}, or null when the kernel lacks it
 * @param tls           the three GDT TLS entries ({@code PTRACE_GET_THREAD_AREA} 12..14), as CRIU's user_desc_t
 */
public record ThreadAttributes(String comm, int schedPolicy, int schedPriority, int nice, long robustHead, int robustLen,
                               Rseq rseq, List<TlsEntry> tls) {

    /**
     * A thread's rseq registration, and the critical section its {@code struct rseq} points to at the stop.
     *
     * @param abiPointer the registered {@code struct rseq}, 0 if none
     * @param csPointer  its {@code rseq_cs} word at the stop: non-zero while a critical section may be under way
     * @param flags      {@code rseq_cs->flags | rseq->flags} as CRIU combines them
     * @param csVersion  the critical section's {@code version} (0 when none)
     * @param startIp    its {@code start_ip}, {@code postCommitOffset} and {@code abortIp} (0 when none)
     */
    public record Rseq(long abiPointer, int abiSize, int signature, long csPointer, int flags, int csVersion, long startIp,
                       long postCommitOffset, long abortIp) {
        /** {@code RSEQ_CS_FLAG_NO_RESTART_ON_SIGNAL}: CRIU then keeps {@code rseq_cs_pointer} in the image. */
        public static final int NO_RESTART_ON_SIGNAL = 1 << 1;

        /**
         * The instruction pointer CRIU stores for a thread stopped at {@code ip} ({@code fixup_thread_rseq()}):
         * inside a version-0 critical section that restarts on signals, its abort handler; else {@code ip}.
         */
        public long restartIp(long ip) {
            if (csPointer == 0 || startIp == 0 || csVersion != 0 || (flags & NO_RESTART_ON_SIGNAL) != 0) return ip;
            return Long.compareUnsigned(ip, startIp) >= 0 && Long.compareUnsigned(ip, startIp + postCommitOffset) < 0 ? abortIp : ip;
        }
    }

    /** One {@code struct user_desc} of {@code PTRACE_GET_THREAD_AREA}. */
    public record TlsEntry(int entryNumber, int baseAddr, int limit, int flags) {
        public boolean seg32bit() {
            return (flags & 1) != 0;
        }

        public int contents() {
            return (flags >>> 1) & 3;
        }

        public boolean readExecOnly() {
            return (flags & (1 << 3)) != 0;
        }

        public boolean limitInPages() {
            return (flags & (1 << 4)) != 0;
        }

        public boolean segNotPresent() {
            return (flags & (1 << 5)) != 0;
        }

        public boolean usable() {
            return (flags & (1 << 6)) != 0;
        }
    }
}
