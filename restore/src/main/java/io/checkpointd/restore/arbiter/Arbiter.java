package io.checkpointd.restore.arbiter;

import java.time.Duration;

/**
 * A coordination service deciding which daemon may act for one protected service: the one holding its lease.
 * The active primary's daemon holds it while it protects; the backup takes it only when the primary no longer
 * can (its session with the arbiter ended), and only then fails over, with a generation from
 * {@link Lease#nextGeneration(long)} that fences every older one.
 */
public interface Arbiter extends AutoCloseable {
    /** The service this arbiter decides for. */
    String serviceId();

    /** Where the arbiter is, for messages (e.g. {@code zk://127.0.0.1:2181/checkpointd service kv}). */
    String describe();

    /**
     * Takes the lease, waiting up to {@code max} for the current holder to release it or lose it (zero: one try).
     *
     * @param holder who takes it, for the other side's messages (role, host, pid)
     * @throws LeaseHeldException   if another holder still has it after {@code max}
     * @throws ArbiterException     if the arbiter cannot be reached: nobody can be given the lease now
     */
    Lease acquire(String holder, Duration max) throws ArbiterException, InterruptedException;

    /** Ends this daemon's session: a lease it holds is released (the other side can take it at once). */
    @Override
    void close();
}
