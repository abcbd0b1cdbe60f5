package io.checkpointd.linux;

/**
 * The result of {@code waitpid(2)}: which child changed state and its decoded status word
 * (the {@code WIFEXITED}/{@code WIFSTOPPED}/... macros, plus the ptrace event in bits 16-23).
 *
 * @param pid the pid/tid waitpid returned, 0 for {@code WNOHANG} with nothing to report
 * @param raw the raw status word
 */
public record WaitStatus(int pid, int raw) {
    /** {@code WIFEXITED} */
    public boolean exited() {
        return (raw & 0x7f) == 0;
    }

    /** {@code WEXITSTATUS} */
    public int exitCode() {
        return (raw >> 8) & 0xff;
    }

    /** {@code WIFSIGNALED} */
    public boolean signaled() {
        return (raw & 0x7f) != 0 && (raw & 0x7f) != 0x7f;
    }

    /** {@code WTERMSIG} */
    public int termSig() {
        return raw & 0x7f;
    }

    /** {@code WIFSTOPPED} */
    public boolean stopped() {
        return (raw & 0xff) == 0x7f;
    }

    /** {@code WSTOPSIG} */
    public int stopSig() {
        return (raw >> 8) & 0xff;
    }

    /** The ptrace event ({@code status >> 16}), e.g. {@code PTRACE_EVENT_STOP} (128) after {@code PTRACE_INTERRUPT}; 0 for a plain signal stop. */
    public int ptraceEvent() {
        return (raw >> 16) & 0xff;
    }

    @Override
    public String toString() {
        if (pid == 0) return "WaitStatus[nothing]";
        if (exited()) return "WaitStatus[" + pid + " exited " + exitCode() + "]";
        if (stopped()) return "WaitStatus[" + pid + " stopped sig " + stopSig() + " event " + ptraceEvent() + "]";
        if (signaled()) return "WaitStatus[" + pid + " killed by " + termSig() + "]";
        return "WaitStatus[" + pid + " raw 0x" + Integer.toHexString(raw) + "]";
    }
}
