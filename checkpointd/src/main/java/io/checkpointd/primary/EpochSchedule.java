package io.checkpointd.primary;

import io.checkpointd.protocol.status.Json;
import io.checkpointd.protocol.status.Window;
import java.util.concurrent.TimeUnit;

/**
 * When the next epoch starts. Ending on output (the default with a proxy): an epoch ends as soon as the proxy
 * reports that it holds output of the open epoch (OUTPUT_HELD), but no sooner than {@code min} after the last pause
 * ended, so the service always runs that long between pauses; {@code period} ({@code --epoch}) is the longest an
 * epoch runs either way. A reply then waits for one pause, one ship and one ack instead of half an interval on
 * average. On the timer alone, epochs run at the fixed rate of {@code period}, late ones caught up back to back (up
 * to {@link #CATCH_UP} periods' worth: a slow ack, a CRIU dump); beyond that the schedule starts over from now.
 *
 * <p>{@link #outputHeld} is called on the proxy connection's reader thread, the rest on the epoch loop.
 */
final class EpochSchedule {
    /** Periods an epoch schedule that fell behind may catch up, back to back. */
    private static final long CATCH_UP = 4;

    private final long period;
    private final long min;
    private final boolean onOutput;
    private long next = System.nanoTime();
    private long lastThaw = System.nanoTime();
    /**
     * The newest epoch the proxy reported holding output, the newest this primary has sealed, and the held epoch the
     * last output-ended wait acted on: an epoch that then failed to seal is retried at the interval, not at once.
     */
    private long heldIn = -1, sealed = -1, taken = -1;
    private long endedOnOutput, endedOnTimer, signals;
    /** When the proxy's newest OUTPUT_HELD arrived, and that of the epoch the last wait began on output (0: timer). */
    private long heldAtNanos, triggeredAtNanos;
    /** From OUTPUT_HELD heard to the freeze of the epoch it ended, ms: the first part of a held reply's delay. */
    private final Window triggerToFreezeMs = new Window(1024);

    EpochSchedule(PrimaryConfig cfg) {
        this.period = cfg.epoch().toNanos();
        this.min = cfg.epochMin().toNanos();
        this.onOutput = cfg.epochOnOutput();
    }

    /** OUTPUT_HELD: the proxy holds output of {@code epoch}; it waits for that epoch (or a later one) to be sealed. */
    synchronized void outputHeld(long epoch) {
        signals++;
        if (epoch <= heldIn) return;
        heldIn = epoch;
        heldAtNanos = System.nanoTime();
        notifyAll();
    }

    /** Epoch {@code n} is sealed at the proxy: output held so far belongs to it or an earlier epoch. */
    synchronized void sealed(long n) {
        sealed = Math.max(sealed, n);
    }

    /** The pause of the epoch just captured is over: the floor counts from here. */
    synchronized void thawed() {
        lastThaw = System.nanoTime();
    }

    /** Waits until the next epoch is due: output held (past the floor), or the interval ran out. */
    synchronized void awaitNext() throws InterruptedException {
        while (!awaitNext(Long.MAX_VALUE / 4)) {
            // not due yet: wait on
        }
    }

    /**
     * As {@link #awaitNext()}, but for at most {@code maxNanos}.
     *
     * @return whether the next epoch is due; false if {@code maxNanos} passed first (the loop's status and checks
     *         must not wait for a long interval)
     */
    synchronized boolean awaitNext(long maxNanos) throws InterruptedException {
        long giveUp = System.nanoTime() + maxNanos;
        while (true) {
            long now = System.nanoTime();
            boolean held = onOutput && heldIn > sealed && heldIn > taken;
            if (held && now - lastThaw >= min) {
                endedOnOutput++;
                taken = heldIn;
                triggeredAtNanos = heldAtNanos;
                next = now + period;
                return true;
            }
            if (now - next >= 0) {
                endedOnTimer++;
                triggeredAtNanos = 0;
                next = onOutput ? now + period : Math.max(next + period, now - CATCH_UP * period);
                return true;
            }
            if (now - giveUp >= 0) return false;
            long until = held ? Math.min(lastThaw + min, next) : next;
            if (until - giveUp > 0) until = giveUp;
            TimeUnit.NANOSECONDS.timedWait(this, Math.max(1, until - now));
        }
    }

    /** The epoch just begun freezes now: an epoch ended on output counts the wait since its OUTPUT_HELD. */
    synchronized void freezing() {
        if (triggeredAtNanos != 0) triggerToFreezeMs.add((System.nanoTime() - triggeredAtNanos) / 1e6);
        triggeredAtNanos = 0;
    }

    /** The epoch due was not begun (no window slot yet): the output it was for still ends the next wait at once. */
    synchronized void retry() {
        taken = -1;
    }

    /** Epochs begun because output was held, and because the interval ran out; OUTPUT_HELD frames heard. */
    synchronized Json summary() {
        return Json.object().put("onOutput", onOutput).put("minMs", min / 1e6).put("endedOnOutput", endedOnOutput)
                .put("endedOnInterval", endedOnTimer).put("outputHeldSignals", signals)
                .put("triggerToFreezeMs", triggerToFreezeMs.summary());
    }

    synchronized long endedOnOutput() {
        return endedOnOutput;
    }
}
