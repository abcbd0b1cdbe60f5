package io.checkpointd.protocol.auth;

import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;

/**
 * At most {@code burst} warnings per window, then one line saying how many were suppressed: peers that can make
 * us log (by failing handshakes) must not be able to flood the log or the disk.
 */
final class LogLimiter {
    private final int burst;
    private final long windowNanos;
    private long windowStart = System.nanoTime();
    private int logged;
    private long suppressed;

    LogLimiter(int burst, long window, TimeUnit unit) {
        this.burst = burst;
        this.windowNanos = unit.toNanos(window);
    }

    synchronized void warn(Logger log, String format, Object... args) {
        long now = System.nanoTime();
        if (now - windowStart >= windowNanos) {
            if (suppressed > 0) log.warn("{} similar warnings suppressed in the last {} s", suppressed, TimeUnit.NANOSECONDS.toSeconds(windowNanos));
            windowStart = now;
            logged = 0;
            suppressed = 0;
        }
        if (logged < burst) {
            logged++;
            log.warn(format, args);
        } else {
            suppressed++;
        }
    }
}
