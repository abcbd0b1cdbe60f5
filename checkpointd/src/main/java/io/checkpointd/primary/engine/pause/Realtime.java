package io.checkpointd.primary.engine.pause;

import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.Syscalls;
import io.checkpointd.primary.engine.EngineSettings;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * SCHED_FIFO priority for the pause's threads ({@link EngineSettings#pauseRealtime()}, 0: off): the pause's work then
 * does not wait behind other runnable threads, and the threads continued at the end do not take the tracer's CPU
 * before it continued them all (docs/design/incremental.md). Refused once (no {@code CAP_SYS_NICE}), never asked again.
 */
public final class Realtime {
    private static final Logger log = LoggerFactory.getLogger(Realtime.class);
    private final int priority = EngineSettings.pauseRealtime();
    private volatile boolean refused;

    /** The calling thread real-time unless that is off or was refused; whether it is now. */
    public boolean on() {
        return priority > 0 && !refused && set(priority);
    }

    /** The calling thread back at normal priority. */
    public void off() {
        set(0);
    }

    /** Sets the calling thread's real-time priority; false when the kernel refuses (logged; not asked again). */
    private boolean set(int p) {
        try {
            Syscalls.setRealtime(p);
            return true;
        } catch (SyscallException e) {
            if (!refused) log.warn("pauses run at normal priority: {}", e.getMessage());
            refused = true;
            return false;
        }
    }
}
