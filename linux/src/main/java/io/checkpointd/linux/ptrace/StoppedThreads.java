package io.checkpointd.linux.ptrace;

import io.checkpointd.linux.SyscallException;
import java.io.IOException;
import java.util.List;

/**
 * Every thread of one process held in a ptrace-stop: no thread runs user code, so its memory is consistent and its
 * registers, XSAVE state, signal masks and queues can be read. {@link #close()} lets the threads run again. Every
 * call must come from the thread that traces the process (ptrace requests are tied to it).
 *
 * <p>Two ways to get one: the tests' StoppedProcess.stop seizes the threads for one epoch and detaches at close;
 * {@link Tracer#stopAll} stops threads it keeps seized for as long as the process is protected, which is several
 * times cheaper (docs/design/incremental.md).
 */
public interface StoppedThreads extends AutoCloseable {
    int pid();

    /** The stopped threads, in ascending order; still the same list after {@link #close()}. */
    List<Integer> tids();

    /** True if no thread appeared or vanished during the stop, so the capture covers the whole process. */
    boolean threadSetStable() throws IOException;

    /** Every stopped thread's registers (adjusted for syscall restart as CRIU does), XSAVE area and blocked mask. */
    List<ThreadState> capture() throws SyscallException;

    /** Signals queued for the stopped threads and for the process, plus any dequeued by a stop not yet re-delivered. */
    int pendingSignals() throws SyscallException;

    /** The raw 128-byte {@code siginfo_t}s queued for thread {@code tid} (private queue), in queue order. */
    List<byte[]> queuedSiginfo(int tid) throws SyscallException;

    /** The raw 128-byte {@code siginfo_t}s of the process-wide (shared) pending queue. */
    List<byte[]> sharedSiginfo() throws SyscallException;

    /** Lets every thread run again. Idempotent. */
    @Override
    void close();
}
