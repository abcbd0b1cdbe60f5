package io.checkpointd.bench;

import io.checkpointd.linux.criu.Criu;
import io.checkpointd.linux.criu.Reaper;
import io.checkpointd.linux.freezer.Freezer;
import io.checkpointd.primary.engine.CaptureEngine;
import io.checkpointd.primary.engine.IncrementalEngine;
import io.checkpointd.protocol.image.ImageDirs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;

/**
 * The incremental engine's pause alone, for measuring changes to it: the real {@link IncrementalEngine} on the
 * benchmark's 1 GiB {@link DirtyingWorkload}, epochs taken back to back at a fixed period with no backup, no proxy
 * and no network (each epoch's records are built, as shipping does, and dropped). Prints the pause and its phases
 * (p50 / p90 / p99, ms) so that two builds, or two settings of a {@code -Dcheckpointd.*} switch, can be compared on
 * one box within minutes; the numbers come from {@link EngineBenchmark}, which runs the daemons.
 *
 * <pre>
 * java -cp checkpointd-all.jar:checkpointd-bench.jar io.checkpointd.bench.PauseProbe [--epochs N] [--period-ms P]
 *      [--rate-mibs R] [--live-mb M] [--threads T] [--work-dir DIR]
 * </pre>
 */
public final class PauseProbe {
    private PauseProbe() {
    }

    public static void main(String[] args) throws Exception {
        int epochs = 400, periodMs = 25, liveMb = 480, threads = 24;
        double rateMibs = 40;
        Path workRoot = Path.of("/dev/shm");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--epochs" -> epochs = Integer.parseInt(args[++i]);
                case "--period-ms" -> periodMs = Integer.parseInt(args[++i]);
                case "--rate-mibs" -> rateMibs = Double.parseDouble(args[++i]);
                case "--live-mb" -> liveMb = Integer.parseInt(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--work-dir" -> workRoot = Path.of(args[++i]);
                default -> {
                    System.err.println("usage: PauseProbe [--epochs N] [--period-ms P] [--rate-mibs R] [--live-mb M] [--threads T] [--work-dir DIR]");
                    System.exit(2);
                }
            }
        }
        Reaper.becomeChildSubreaper(); // the setsid'd workload is re-parented here, so this JVM reaps it
        Path dir = Files.createTempDirectory(workRoot, "checkpointd-pause-probe-");
        int pid = -1;
        try {
            // the rate is per 100 ms: 40 MiB/s is 4096 KiB per 100 ms
            pid = DirtyingWorkload.startDetached(dir.resolve("workload.pid"), List.of("--live-mb", Integer.toString(liveMb),
                    "--threads", Integer.toString(threads), "--rate-kb", Long.toString(Math.round(rateMibs * 1024 / 10)), "--period-ms", "100"));
            System.out.printf(Locale.ROOT, "workload pid %d: %d MB live, %d writers, %.1f MiB/s; epochs every %d ms%n", pid, liveMb, threads, rateMibs, periodMs);
            run(pid, dir.resolve("work"), epochs, periodMs);
        } finally {
            if (pid > 0) Reaper.killAndReap(pid, Duration.ofSeconds(20));
            ImageDirs.deleteTree(dir);
        }
    }

    private static void run(int pid, Path work, int epochs, int periodMs) throws Exception {
        Files.createDirectories(work);
        Criu criu = Criu.locate();
        Freezer freezer = Freezer.forProcess(pid);
        try (IncrementalEngine engine = new IncrementalEngine(criu, pid, work, "auto")) {
            CaptureEngine.Capture first = engine.capture(1, true, pause(freezer));
            freezer.thaw();
            first.ship(r -> { });
            int warmup = 20;
            double[] pause = new double[epochs];
            Map<String, double[]> phases = new LinkedHashMap<>();
            long period = periodMs * 1_000_000L, next = System.nanoTime();
            long dumpsBefore = 0, t0 = 0;
            for (int i = -warmup; i < epochs; i++) {
                if (i == 0) {
                    dumpsBefore = (Long) engine.stats().get("criuDumps");
                    t0 = System.nanoTime();
                }
                long wait = next - System.nanoTime();
                if (wait > 0) LockSupport.parkNanos(wait);
                next = Math.max(next + period, System.nanoTime());
                long start = System.nanoTime();
                CaptureEngine.Capture cap = engine.capture(i + warmup + 2, false, pause(freezer));
                freezer.thaw();
                long held = cap.pausedNanos(start);
                cap.ship(r -> { });
                if (i < 0) continue;
                pause[i] = held / 1e6;
                @SuppressWarnings("unchecked")
                Map<String, Object> last = (Map<String, Object>) engine.stats().get("pausePhaseLastMs");
                for (Map.Entry<String, Object> e : last.entrySet()) {
                    phases.computeIfAbsent(e.getKey(), k -> new double[epochs])[i] = ((Number) e.getValue()).doubleValue();
                }
            }
            double secs = (System.nanoTime() - t0) / 1e9;
            long dumps = (Long) engine.stats().get("criuDumps") - dumpsBefore;
            System.out.printf(Locale.ROOT, "%d epochs in %.1f s (%.1f/s), %d CRIU dumps; deferred stops %s%n", epochs, secs, epochs / secs, dumps,
                    engine.stats().get("deferredStops"));
            System.out.printf(Locale.ROOT, "%-10s %8s %8s %8s%n", "ms", "p50", "p90", "p99");
            row("pause", pause);
            for (Map.Entry<String, double[]> e : phases.entrySet()) row(e.getKey(), e.getValue());
            System.out.println("engine: " + engine.stats());
        }
    }

    private static void row(String name, double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        System.out.printf(Locale.ROOT, "%-10s %8.3f %8.3f %8.3f%n", name, q(s, 0.5), q(s, 0.9), q(s, 0.99));
    }

    private static double q(double[] sorted, double p) {
        return sorted[Math.min(sorted.length - 1, (int) Math.floor(p * sorted.length))];
    }

    /** No proxy to seal at, no data dirs: the freezer only for CRIU dumps. */
    private static CaptureEngine.Pause pause(Freezer freezer) {
        return new CaptureEngine.Pause() {
            @Override
            public Freezer freezer() {
                return freezer;
            }

            @Override
            public void freeze() throws java.io.IOException {
                freezer.freeze(Duration.ofSeconds(5));
            }

            @Override
            public void seal() {
            }

            @Override
            public void atCapture() {
            }
        };
    }
}
