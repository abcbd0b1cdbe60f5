package io.checkpointd.linux.ptrace;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.checkpointd.linux.Features;
import io.checkpointd.linux.Syscalls;
import io.checkpointd.linux.WaitStatus;
import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.testing.TrackChildProcess;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Not a test: compares the per-thread cost of {@link StoppedProcess} (seize+interrupt / detach every epoch)
 * with keeping the threads seized across epochs (interrupt / cont). Runs only with
 * {@code -Dcheckpointd.measure=true}; prints its figures.
 */
@Timeout(120)
class SeizeAcrossEpochsMeasurement {
    @Test
    void measure() throws Exception {
        assumeTrue(Boolean.getBoolean("checkpointd.measure"), "measurement: run with -Dcheckpointd.measure=true");
        assumeTrue(Features.ptrace().isAvailable());
        int rounds = Integer.getInteger("checkpointd.measure.rounds", 200);
        try (TrackChildProcess child = new TrackChildProcess()) {
            child.cmd("threads " + Integer.getInteger("checkpointd.measure.threads", 24));
            int gapMs = Integer.getInteger("checkpointd.measure.gapMs", 0);
            int busy = Integer.getInteger("checkpointd.measure.busy", 0);
            if (busy > 0) child.cmd("busy " + busy);
            int pid = child.pid();
            int n = ProcFs.threads(pid).size();
            long[] full = new long[rounds], fullCap = new long[rounds];
            for (int i = 0; i < rounds; i++) {
                child.freezer().freeze(Duration.ofSeconds(5));
                long t0 = System.nanoTime();
                try (StoppedProcess sp = StoppedProcess.stop(pid, child.freezer(), Duration.ofSeconds(5))) {
                    long t1 = System.nanoTime();
                    sp.capture();
                    fullCap[i] = System.nanoTime() - t1;
                }
                full[i] = System.nanoTime() - t0 - fullCap[i];
            }

            // Keep-seized: seize once, then per epoch freeze, INTERRUPT all, thaw, wait, capture, CONT all.
            List<Integer> tids = ProcFs.threads(pid);
            for (int t : tids) Ptrace.seize(t, 0);
            long[] kept = new long[rounds];
            int otherStops = 0;
            long keptStart = System.nanoTime();
            try {
                for (int i = 0; i < rounds; i++) {
                    child.freezer().freeze(Duration.ofSeconds(5));
                    long t0 = System.nanoTime();
                    for (int t : tids) Ptrace.interrupt(t);
                    child.freezer().thaw();
                    int[] sig = new int[tids.size()];
                    for (int k = 0; k < tids.size(); k++) {
                        WaitStatus st = Ptrace.waitStop(tids.get(k), Duration.ofSeconds(5));
                        if (st.ptraceEvent() != Ptrace.PTRACE_EVENT_STOP) {
                            sig[k] = st.stopSig(); // a signal for the thread: pass it on with CONT
                            otherStops++;
                        }
                    }
                    for (int k = 0; k < tids.size(); k++) Ptrace.cont(tids.get(k), sig[k]);
                    kept[i] = System.nanoTime() - t0;
                    if (gapMs > 0) Thread.sleep(gapMs); // the epoch's run time: signals now stop threads until the next wait
                }
            } finally {
                // detach needs a stop: interrupt, wait, detach
                for (int t : tids) Ptrace.interrupt(t);
                for (int t : tids) {
                    WaitStatus st = Ptrace.waitStop(t, Duration.ofSeconds(5));
                    Ptrace.detach(t, st.ptraceEvent() != Ptrace.PTRACE_EVENT_STOP ? st.stopSig() : 0);
                }
            }
            double keptSeconds = (System.nanoTime() - keptStart) / 1e9;
            child.cmd("ping");
            System.out.printf(Locale.ROOT, "(%d busy threads in the child; kept-seized phase %.1f s, %d ms between epochs)%n",
                    busy, keptSeconds, gapMs);
            System.out.printf(Locale.ROOT, "seize/detach per epoch: %d threads, %d rounds: stop+detach median %.1f us/thread"
                    + " (p90 %.1f), capture %.1f us/thread%n", n, rounds, pct(full, 50) / n / 1e3, pct(full, 90) / n / 1e3,
                    pct(fullCap, 50) / n / 1e3);
            System.out.printf(Locale.ROOT, "kept seized (interrupt/cont): median %.1f us/thread (p90 %.1f); %d signal stops"
                    + " passed on meanwhile%n", pct(kept, 50) / n / 1e3, pct(kept, 90) / n / 1e3, otherStops);
            Syscalls.kill(pid, 0);
        }
    }

    private static double pct(long[] a, int p) {
        long[] s = a.clone();
        Arrays.sort(s);
        return s[Math.min(s.length - 1, s.length * p / 100)];
    }
}
