package io.checkpointd.linux;

import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * SCHED_FIFO for the threads a held reply waits on between the primary's ship and its release: the replication
 * connection's event loops (primary and backup) and the backup's store thread. Each does little per epoch, but on a
 * busy host each wake-up otherwise waits for a CPU behind every runnable thread, several times per reply. The
 * priority ({@code -Dcheckpointd.replyPath.realtime}, default {@value #DEFAULT}; 0: off) is below the primary's pause
 * threads' (10), so the backup never preempts a pause on a shared host. Refused (no {@code CAP_SYS_NICE}): logged
 * once, normal priority.
 */
public final class ReplyPathPriority {
    private static final Logger log = LoggerFactory.getLogger(ReplyPathPriority.class);
    public static final String KEY = "checkpointd.replyPath.realtime";
    public static final int DEFAULT = 5;
    private static final AtomicBoolean REFUSED = new AtomicBoolean();

    private ReplyPathPriority() {
    }

    /** The configured priority; 0: off. */
    public static int priority() {
        return Integer.getInteger(KEY, DEFAULT);
    }

    /** Makes the calling thread real-time at {@link #priority()}; whether it now is. */
    public static boolean raise() {
        int p = priority();
        if (p <= 0 || REFUSED.get()) return false;
        try {
            Syscalls.setRealtime(p);
            return true;
        } catch (SyscallException e) {
            if (!REFUSED.getAndSet(true)) log.warn("the reply path runs at normal priority: {}", e.getMessage());
            return false;
        }
    }

    /** The calling thread back at normal priority (a large epoch's work must not starve the host). */
    public static void lower() {
        try {
            Syscalls.setRealtime(0);
        } catch (SyscallException e) {
            // back to SCHED_OTHER is always allowed; nothing to do if the thread was never raised
        }
    }
}
