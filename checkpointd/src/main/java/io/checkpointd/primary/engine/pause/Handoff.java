package io.checkpointd.primary.engine.pause;

import io.checkpointd.primary.engine.EngineSettings;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;

/**
 * How the pause's two threads wait for each other. Each spins a while before it blocks, because waking a blocked
 * thread costs a sizeable share of the pause aimed at. Both run real-time on CPUs of their own during the pause; with
 * one CPU they would spin against each other, so they do not spin at all.
 */
final class Handoff {
    private static final boolean SPIN = Runtime.getRuntime().availableProcessors() > 1 && EngineSettings.pauseSpin();
    /** How long the memory thread spins for the maps the tracer thread reads. */
    static final long HANDOFF_SPIN_NANOS = SPIN ? EngineSettings.pauseSpinHandoffNanos() : 0;
    /** How long the tracer thread spins for the memory thread's result. */
    static final long JOIN_SPIN_NANOS = SPIN ? EngineSettings.pauseSpinJoinNanos() : 0;

    private Handoff() {
    }

    /** {@code f}'s value, spinning up to {@code maxNanos} before blocking. */
    static <T> T spinJoin(CompletableFuture<T> f, long maxNanos) throws IOException {
        return await(spinUntilDone(f, maxNanos));
    }

    static <F extends Future<?>> F spinUntilDone(F f, long maxNanos) {
        for (long end = System.nanoTime() + maxNanos; !f.isDone() && System.nanoTime() - end < 0; ) Thread.onSpinWait();
        return f;
    }

    /**
     * The memory thread's result. Waits through interrupts (it works on the stopped process, which must not run
     * before it is done; the interrupt is kept); its failure is rethrown here.
     */
    static <T> T await(Future<T> f) throws IOException {
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return f.get();
                } catch (InterruptedException e) {
                    interrupted = true;
                } catch (ExecutionException e) {
                    Throwable c = e.getCause();
                    if (c instanceof IOException io) throw io;
                    if (c instanceof RuntimeException r) throw r;
                    if (c instanceof Error err) throw err;
                    throw new IOException(c);
                }
            }
        } finally {
            if (interrupted) Thread.currentThread().interrupt();
        }
    }
}
