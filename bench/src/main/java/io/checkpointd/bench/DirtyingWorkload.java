package io.checkpointd.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.LockSupport;

/**
 * The protected process of the incremental benchmark (JDK only): holds {@code --live-mb} of live data in
 * {@code long[]} chunks and, from {@code --threads} writer threads, writes one long at a random position of a
 * random chunk {@code --rate-kb} KiB / 4 KiB times per {@code --period-ms} in total, spread evenly over time, so
 * it dirties about that many distinct pages per period (the live set is far bigger than the rate). The writers
 * allocate nothing, so the garbage collector stays quiet and the JVM's own dirtying is background noise.
 *
 * <p>Start it the way {@link IncrementalFloorBenchmark#WORKLOAD_JVM_ARGS} does ({@code setsid}, 1 GiB pre-touched heap,
 * {@code -XX:-UsePerfData}, stdio {@code /dev/null}). Once the live data is built it writes its pid to
 * {@code --ready-file} (temporary file + rename, then closed: it keeps no file open for writing) and runs until
 * killed.
 *
 * <p>With {@code --rate-file F} the rate can be changed while it runs: F holds KiB per period, re-read every 50 ms
 * (the engine benchmark sweeps the dirty rate on one process, so every engine sees the same heap).
 */
public final class DirtyingWorkload {
    /**
     * Starts the workload detached ({@code setsid -f} with {@link IncrementalFloorBenchmark#WORKLOAD_JVM_ARGS}, stdio
     * on {@code /dev/null}: not a child of this JVM, whose process reaper would take its ptrace stops) with
     * {@code args} and {@code --ready-file ready}, and returns its pid once it wrote that file (at most 120 s).
     */
    static int startDetached(Path ready, List<String> args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("setsid", "-f", io.checkpointd.demo.KvServerProcess.currentJava()));
        cmd.addAll(IncrementalFloorBenchmark.WORKLOAD_JVM_ARGS);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), DirtyingWorkload.class.getName()));
        cmd.addAll(args);
        cmd.addAll(List.of("--ready-file", ready.toString()));
        Process setsid = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
            if (!setsid.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) throw new IOException("setsid -f did not return");
        } finally {
            setsid.destroyForcibly();
            setsid.waitFor(5, java.util.concurrent.TimeUnit.SECONDS);
        }
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(120);
        while (!Files.exists(ready)) {
            if (System.nanoTime() - deadline > 0) {
                throw new IOException("workload did not become ready in 120 s (a stray JVM may be left: look for "
                        + DirtyingWorkload.class.getSimpleName() + " " + ready + ")");
            }
            Thread.sleep(50);
        }
        return Integer.parseInt(Files.readString(ready).trim());
    }

    static final int CHUNK_LONGS = 32 * 1024; // 256 KiB per chunk: below half a G1 region, so never humongous
    static final int PAGE_LONGS = 4096 / 8;

    private DirtyingWorkload() {
    }

    public static void main(String[] args) throws IOException, InterruptedException {
        int liveMb = 480;
        int threads = 24;
        int rateKb = 4096;
        int periodMs = 100;
        Path ready = null;
        Path rateFile = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--live-mb" -> liveMb = Integer.parseInt(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--rate-kb" -> rateKb = Integer.parseInt(args[++i]);
                case "--period-ms" -> periodMs = Integer.parseInt(args[++i]);
                case "--ready-file" -> ready = Path.of(args[++i]);
                case "--rate-file" -> rateFile = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        int chunks = (int) ((long) liveMb * 1024 * 1024 / (CHUNK_LONGS * 8L));
        long[][] live = new long[chunks][];
        SplittableRandom fill = new SplittableRandom(42);
        for (int c = 0; c < chunks; c++) {
            long[] a = new long[CHUNK_LONGS];
            for (int j = 0; j < a.length; j++) a[j] = fill.nextLong(); // random: incompressible, no zero pages
            live[c] = a;
        }
        System.gc(); // settle the live set into the old generation before the benchmark starts

        // Writes per second in total, split over the writers; each writer ticks every 5 ms.
        perThreadPerTick = perTick(rateKb, periodMs, threads);
        List<Thread> writers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            Thread w = new Thread(() -> write(live), "writer-" + t);
            w.setDaemon(true);
            w.start();
            writers.add(w);
        }
        if (rateFile != null) {
            Path f = rateFile;
            int period = periodMs, n = threads;
            Thread control = new Thread(() -> followRate(f, period, n), "rate-control");
            control.setDaemon(true);
            control.start();
        }
        if (ready != null) {
            Path tmp = ready.resolveSibling(ready.getFileName() + ".tmp");
            Files.writeString(tmp, Long.toString(ProcessHandle.current().pid()), StandardCharsets.US_ASCII);
            Files.move(tmp, ready, StandardCopyOption.ATOMIC_MOVE);
        }
        for (Thread w : writers) w.join();
    }

    /** Writes per writer per 5 ms tick; changed by {@link #followRate}. */
    private static volatile double perThreadPerTick;

    private static double perTick(double rateKb, int periodMs, int threads) {
        double writesPerSec = rateKb / 4.0 * 1000.0 / periodMs;
        return writesPerSec / threads * 0.005;
    }

    private static void followRate(Path file, int periodMs, int threads) {
        String last = "";
        while (true) {
            try {
                String s = Files.readString(file, StandardCharsets.US_ASCII).trim();
                if (!s.isEmpty() && !s.equals(last)) {
                    perThreadPerTick = perTick(Double.parseDouble(s), periodMs, threads);
                    last = s;
                }
            } catch (IOException | RuntimeException e) {
                // absent or being replaced: keep the current rate
            }
            LockSupport.parkNanos(50_000_000L);
        }
    }

    private static void write(long[][] live) {
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        double owed = 0;
        long next = System.nanoTime();
        while (true) {
            next += 5_000_000L;
            owed += perThreadPerTick;
            while (owed >= 1) {
                long[] a = live[rnd.nextInt(live.length)];
                // one long per page at a random page: each write dirties a (most likely) distinct page
                int page = rnd.nextInt(a.length / PAGE_LONGS);
                a[page * PAGE_LONGS + rnd.nextInt(PAGE_LONGS)] ^= rnd.nextLong();
                owed -= 1;
            }
            long wait = next - System.nanoTime();
            if (wait > 0) LockSupport.parkNanos(wait);
            else if (wait < -100_000_000L) next = System.nanoTime(); // fell far behind (frozen): do not burst
        }
    }
}
