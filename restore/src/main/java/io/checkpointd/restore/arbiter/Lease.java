package io.checkpointd.restore.arbiter;

import java.util.function.Consumer;

/**
 * A held lease. It is lost when the session that took it ends (expired after a partition from the arbiter, or
 * closed): from then on {@link #isHeld()} is false, the other side may take it, and {@link #nextGeneration(long)}
 * fails; a daemon that loses its lease must stop acting (a primary stops protecting, as a fenced one does).
 */
public interface Lease {
    /** True while the lease is held and the arbiter is reachable (false while merely disconnected: in doubt). */
    boolean isHeld();

    /**
     * Atomically takes a new generation, greater than every generation taken before for this service and at
     * least {@code atLeast}; it succeeds only while this lease is held, so a stale holder can never advance it.
     *
     * @throws LeaseLostException if the lease is no longer held
     * @throws ArbiterException   if the arbiter cannot be reached (the counter is unchanged)
     */
    long nextGeneration(long atLeast) throws ArbiterException, InterruptedException;

    /** Runs {@code listener} once, with the reason, when the lease is lost (at once if it already is). */
    void onLost(Consumer<String> listener);

    /** Gives the lease up (the other side can take it at once); idempotent. */
    void release();
}
