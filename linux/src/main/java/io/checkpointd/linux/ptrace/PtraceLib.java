package io.checkpointd.linux.ptrace;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

/**
 * Raw {@code <sys/ptrace.h>}; package-private, {@link Ptrace} checks results. glibc's {@code ptrace} is
 * variadic; fixed arity is sound on x86_64.
 */
interface PtraceLib extends Library {
    PtraceLib INSTANCE = Native.load("c", PtraceLib.class);

    long PTRACE_CONT = 7;
    long PTRACE_SINGLESTEP = 9;
    long PTRACE_PEEKDATA = 2;
    long PTRACE_GETREGS = 12;
    long PTRACE_SETREGS = 13;
    long PTRACE_GETFPREGS = 14;
    long PTRACE_SETFPREGS = 15;
    long PTRACE_DETACH = 17;
    /** {@code PTRACE_GET_THREAD_AREA} (x86): one GDT TLS entry as a {@code struct user_desc}. */
    long PTRACE_GET_THREAD_AREA = 25;
    long PTRACE_GETEVENTMSG = 0x4201;
    long PTRACE_GETREGSET = 0x4204;
    long PTRACE_SEIZE = 0x4206;
    long PTRACE_INTERRUPT = 0x4207;
    /** Restart a thread in group-stop without letting it run: it stays stopped until SIGCONT, as if untraced. */
    long PTRACE_LISTEN = 0x4208;
    long PTRACE_PEEKSIGINFO = 0x4209;
    long PTRACE_GETSIGMASK = 0x420a;
    /** {@code PTRACE_GET_RSEQ_CONFIGURATION} (kernel 5.13): a thread's rseq registration. */
    long PTRACE_GET_RSEQ_CONFIGURATION = 0x420f;
    /** {@code PTRACE_O_TRACECLONE}: a new thread is traced from its first instruction (starts in PTRACE_EVENT_STOP). */
    long PTRACE_O_TRACECLONE = 0x8;
    /** {@code PTRACE_O_TRACEEXEC}: execve reports PTRACE_EVENT_EXEC instead of sending the tracee a SIGTRAP. */
    long PTRACE_O_TRACEEXEC = 0x10;
    int PTRACE_EVENT_CLONE = 3;
    int PTRACE_EVENT_EXEC = 4;
    /** {@code PTRACE_PEEKSIGINFO_SHARED}: peek the process-wide (shared) pending queue instead of the thread's. */
    int PTRACE_PEEKSIGINFO_SHARED = 1;
    /** {@code NT_X86_XSTATE} ({@code <elf.h>}): the XSAVE area as a regset. */
    long NT_X86_XSTATE = 0x202;

    /** {@code long ptrace(enum __ptrace_request request, pid_t pid, void *addr, void *data)} */
    long ptrace(long request, int pid, Pointer addr, Pointer data);

    /** Same, for requests whose addr/data are integers (options, signal numbers). */
    long ptrace(long request, int pid, long addr, long data);
}
