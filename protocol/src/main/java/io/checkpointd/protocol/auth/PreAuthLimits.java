package io.checkpointd.protocol.auth;

import java.time.Duration;
import java.util.Objects;

/**
 * The bounds a {@link PreAuthGate} puts on a listener's connections that have not authenticated yet.
 *
 * @param deadline     a connection not authenticated within it is closed ({@value #MIN_DEADLINE_MS} ms to
 *                     {@value #MAX_DEADLINE_S} s)
 * @param maxPending   connections authenticating at once on the listener; a new one then closes the oldest
 * @param maxPerSource connections authenticating at once from one source address; a further one is closed at once
 *                     (at most {@code maxPending})
 */
public record PreAuthLimits(Duration deadline, int maxPending, int maxPerSource) {
    public static final long MIN_DEADLINE_MS = 100;
    public static final long MAX_DEADLINE_S = 60;
    public static final Duration MIN_DEADLINE = Duration.ofMillis(MIN_DEADLINE_MS);
    /** The handshakes' own server-side timeouts are a backstop just above it ({@link AuthHandshake#SERVER_BACKSTOP}). */
    public static final Duration MAX_DEADLINE = Duration.ofSeconds(MAX_DEADLINE_S);
    /** Far above any real deployment's peers (one primary, one backup, one proxy), low enough to bound memory. */
    public static final int MAX_CONNECTIONS = 65_536;
    public static final PreAuthLimits DEFAULT = new PreAuthLimits(AuthHandshake.TIMEOUT, 64, 8);

    /** @throws IllegalArgumentException naming the bound that is out of range */
    public PreAuthLimits {
        Objects.requireNonNull(deadline, "deadline");
        if (deadline.compareTo(MIN_DEADLINE) < 0 || deadline.compareTo(MAX_DEADLINE) > 0) {
            throw new IllegalArgumentException("the deadline must be between " + MIN_DEADLINE_MS + "ms and " + MAX_DEADLINE_S
                    + "s, not " + deadline.toMillis() + "ms");
        }
        if (maxPending < 1 || maxPending > MAX_CONNECTIONS) {
            throw new IllegalArgumentException("the pending connections must be between 1 and " + MAX_CONNECTIONS + ", not " + maxPending);
        }
        if (maxPerSource < 1 || maxPerSource > maxPending) {
            throw new IllegalArgumentException("the connections per source must be between 1 and the pending connections ("
                    + maxPending + "), not " + maxPerSource);
        }
    }
}
