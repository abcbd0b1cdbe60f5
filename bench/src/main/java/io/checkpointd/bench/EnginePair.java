package io.checkpointd.bench;

import static io.checkpointd.bench.EngineBenchmark.f;
import static io.checkpointd.bench.EngineBenchmark.java;
import static io.checkpointd.bench.EngineBenchmark.log;
import static io.checkpointd.bench.EngineBenchmark.pct;
import static io.checkpointd.bench.EngineBenchmark.sorted;
import static io.checkpointd.bench.StatusSampler.num;
import static io.checkpointd.bench.StatusSampler.readStatus;
import static io.checkpointd.bench.StatusSampler.stat;
import static io.checkpointd.bench.StatusSampler.window;

import io.checkpointd.bench.EngineBenchmark.Options;
import io.checkpointd.bench.EngineBenchmark.Run;
import io.checkpointd.bench.EngineBenchmark.Sample;
import io.checkpointd.protocol.status.Json;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * A {@code checkpointd backup} + {@code checkpointd protect} pair on {@link EngineBenchmark}'s workload, started,
 * brought to steady state after the full sync, measured ({@link #measure}) and ended; {@link #close()} ends both
 * (backup first: no failover is started). Its processes are registered with the benchmark, whose cleanup ends them
 * on Ctrl-C.
 */
final class EnginePair implements AutoCloseable {
    private final EngineBenchmark bench;
    private final Options opt;
    private final Path dir;

    final String engine;
    final int epochMs;
    final Path runDir;
    final Process backup;
    final Process protect;
    final Path status;

    EnginePair(EngineBenchmark bench, String engine, int epochMs, int pid) throws IOException, InterruptedException {
        this.bench = bench;
        this.opt = bench.opt;
        this.dir = bench.dir;
        this.engine = engine;
        this.epochMs = epochMs;
        String name = engine + "-" + epochMs;
        this.runDir = dir.resolve(name + "-run");
        Files.createDirectories(runDir);
        int port = LocalProcesses.freePorts(1)[0];
        backup = daemon(name + "-backup", List.of("backup", "--listen", "127.0.0.1:" + port, "--dir", dir.resolve(name + "-store").toString(),
                "--run-dir", runDir.toString(), "--heartbeat-timeout", "60s", "--auth-key", bench.keyFile.toString()));
        awaitListening(port, backup);
        List<String> args = new ArrayList<>(List.of("protect", Integer.toString(pid), "--backup", "127.0.0.1:" + port,
                "--epoch", epochMs + "ms", "--run-dir", runDir.toString(), "--work-dir", dir.resolve(name + "-work").toString(),
                "--auth-key", bench.keyFile.toString(), "--engine", engine, "--on-exit", "stop",
                // the backup does not answer while it commits the 1 GiB full sync, which takes longer than the
                // default 5 s on a loaded box: the primary would reconnect and start the full sync over, forever
                "--backup-timeout", "300s", "--max-in-flight", Integer.toString(opt.maxInFlight())));
        // the full sync ships the whole 1 GiB image (a minute on a loaded box): dirty slowly meanwhile, or the
        // first incremental epoch after it copies everything written during that minute
        bench.setRate(1);
        protect = daemon(name + "-protect", args);
        status = runDir.resolve("primary-" + protect.pid() + ".json");
        long t = System.nanoTime();
        Json s = awaitStatus(st -> num(st.get("epochsAcked")) >= 1, Duration.ofSeconds(300), "the first epoch (full sync) acknowledged");
        syncSeconds = (System.nanoTime() - t) / 1e9;
        syncRaw = num(s.get("totalShippedRawBytes"));
        log("%s %d ms: protecting (tracker %s), full sync of %.0f MB acknowledged after %.1f s", engine, epochMs, s.get("tracker"),
                syncRaw / 1e6, syncSeconds);
        // steady state: the catch-up epochs after the sync are shipped and the backup acknowledges promptly
        // (its commit and compaction of the full image are over)
        long acked = (long) num(s.get("epochsAcked"));
        awaitStatus(st -> num(st.get("epochsAcked")) >= acked + 2 && window(st, "ackMs", "last") < 1000
                && window(st, "shippedRawBytes", "last") < 64e6, Duration.ofSeconds(180), "steady state after the full sync");
        double steady = (System.nanoTime() - t) / 1e9;
        log("%s %d ms: steady after %.1f s", engine, epochMs, steady);
        bench.syncs.add(String.format(Locale.ROOT, "%s %d ms: %.0f MB raw in %.1f s (%.0f MB/s), steady after %.1f s", engine, epochMs,
                syncRaw / 1e6, syncSeconds, syncRaw / 1e6 / syncSeconds, steady));
    }

    double syncSeconds, syncRaw;

    /** Warms up, then measures for {@code seconds} (or, when {@code epochs > 0}, that many epochs). */
    Run measure(double rate, double seconds, int epochs) throws IOException, InterruptedException {
        if (epochs > 0) {
            long e0 = (long) num(read().get("epochsAcked"));
            awaitStatus(st -> num(st.get("epochsAcked")) >= e0 + 1, Duration.ofSeconds(60), "a warm-up epoch");
        } else {
            // at least 3 epochs at the new rate, within 3 × the warm-up
            long n0 = (long) window(read(), "pauseMs", "n");
            long until = System.nanoTime() + (long) (opt.warmup() * 1e9), limit = System.nanoTime() + (long) (3 * opt.warmup() * 1e9);
            while (System.nanoTime() < limit && (System.nanoTime() < until || window(read(), "pauseMs", "n") < n0 + 3)) Thread.sleep(50);
        }
        StatusSampler sampler = new StatusSampler(status);
        Json a = sampler.begin();
        double psi0 = HostInfo.cpuPressure();
        long t0 = System.nanoTime();
        if (epochs > 0) {
            long e0 = (long) num(a.get("epochsAcked"));
            awaitStatus(st -> num(st.get("epochsAcked")) >= e0 + epochs, Duration.ofSeconds(60L * epochs), epochs + " epochs");
        } else {
            long until = System.nanoTime() + (long) (seconds * 1e9);
            while (System.nanoTime() < until) {
                guardMemory();
                Thread.sleep(100);
            }
        }
        Json b = sampler.end();
        double secs = (System.nanoTime() - t0) / 1e9;
        double psi = (HostInfo.cpuPressure() - psi0) / (secs * 1e6);
        List<Double> l = new ArrayList<>(bench.loads);
        double load = l.isEmpty() ? Double.NaN : l.get(l.size() - 1);
        Run r = new Run(engine, epochMs, rate, sampler.samples(), sampler.missed(), secs,
                (long) (num(b.get("lastEpoch")) - num(a.get("lastEpoch"))), (long) (num(b.get("epochsAcked")) - num(a.get("epochsAcked"))),
                (long) (num(b.get("totalShippedRawBytes")) - num(a.get("totalShippedRawBytes"))),
                (long) (num(b.get("totalShippedWireBytes")) - num(a.get("totalShippedWireBytes"))),
                engine.equals("full") ? (long) (num(b.get("lastEpoch")) - num(a.get("lastEpoch"))) : (long) (stat(b, "criuDumps") - stat(a, "criuDumps")),
                (long) sampler.samples().stream().filter(x -> !x.dump()).mapToDouble(Sample::written).average().orElse(0), load, psi,
                sorted(sampler.acks()));
        log("%s %d ms, %5.1f MiB/s: %d epochs in %.1f s (%.1f/s), pause p50 %.2f p99 %.2f ms, raw %.2f MB/epoch, %d CRIU dumps, %d samples missed",
                engine, epochMs, rate, r.epochs(), secs, r.epochsPerSec(), pct(r.pauses(false), 0.5), pct(r.pauses(false), 0.99),
                r.raw() / Math.max(1.0, r.epochs()) / 1e6, r.dumps(), r.missed());
        if (b.get("engineStats") instanceof Json es && es.get("criuDumpReasons") != null) {
            log("    CRIU dumps of this primary so far, by reason: %s", es.get("criuDumpReasons"));
            log("    its epoch cycle so far (ms): %s; pre-copy p50 %s ms %s", b.get("cycleMs"), es.get("precopyP50Ms"), es.get("precopyPhaseP50Ms"));
        }
        if (!protect.isAlive()) throw new IOException("protect exited with status " + protect.exitValue() + "; see " + dir);
        return r;
    }

    Json read() throws IOException {
        return readStatus(status);
    }

    Json awaitStatus(java.util.function.Predicate<Json> ok, Duration max, String what) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + max.toNanos();
        while (true) {
            if (!protect.isAlive()) throw new IOException("protect exited with status " + protect.exitValue() + " waiting for " + what
                    + "; log: " + dir.resolve(engine + "-" + epochMs + "-protect.log"));
            if (!backup.isAlive()) throw new IOException("backup exited waiting for " + what);
            guardMemory();
            try {
                Json s = read();
                if (ok.test(s)) return s;
            } catch (IOException | RuntimeException e) {
                // not published yet, or being replaced
            }
            if (System.nanoTime() - deadline > 0) throw new IOException("no " + what + " within " + max.toSeconds() + " s");
            Thread.sleep(20);
        }
    }

    /**
     * The primary maps each CRIU dump's pages file (1.1 GB here) and never unmaps it: a deleted tmpfs file's memory
     * is freed only when the garbage collector finds its MappedByteBuffer, and with a quiet heap that is rarely.
     * A run of the full engine once held 21 GB of tmpfs this way and was killed by the OOM killer. So: below
     * 8 GiB available, ask the primary's JVM for a GC (jcmd GC.run, counted and reported); below 3 GiB, stop.
     */
    void guardMemory() throws IOException, InterruptedException {
        long avail = HostInfo.memAvailable();
        if (avail < 0 || avail > 8L << 30) return;
        if (avail < 3L << 30) throw new IOException(f("only %.1f GiB of memory left (primary pid %d holds deleted dumps mapped)", avail / (double) (1L << 30), protect.pid()));
        if (System.nanoTime() - lastGc < 5_000_000_000L) return;
        lastGc = System.nanoTime();
        forcedGcs++;
        Process j = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(), Long.toString(protect.pid()), "GC.run")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        if (!j.waitFor(30, TimeUnit.SECONDS)) j.destroyForcibly();
        j.waitFor();
        log("%s %d ms: %.1f GiB available: forced a GC in the primary (%d so far); now %.1f GiB", engine, epochMs,
                avail / (double) (1L << 30), forcedGcs, HostInfo.memAvailable() / (double) (1L << 30));
    }

    long lastGc;
    int forcedGcs;

    @Override
    public void close() throws InterruptedException {
        end(backup, false); // first: a backup that outlives its primary's heartbeats would restore the workload
        end(protect, true);
        if (forcedGcs > 0) {
            bench.notes.add(f("%s engine at %d ms epochs: memory ran low %d times (deleted CRIU dumps still mapped by the primary, see below); "
                    + "the harness forced a GC in the primary's JVM each time (`jcmd GC.run`), which unmaps them.", engine, epochMs, forcedGcs));
        }
        try {
            // the stores and captures hold GBs of tmpfs: free them before the next pair syncs
            String name = engine + "-" + epochMs;
            io.checkpointd.protocol.image.ImageDirs.deleteTree(dir.resolve(name + "-store"));
            io.checkpointd.protocol.image.ImageDirs.deleteTree(dir.resolve(name + "-work"));
        } catch (IOException e) {
            log("removing the %s store: %s", engine, e.getMessage());
        }
    }

    private Process daemon(String name, List<String> args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(java()));
        cmd.addAll(opt.daemonJvmArgs());
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "io.checkpointd.cli.Main"));
        cmd.addAll(args);
        Process p = new ProcessBuilder(cmd).redirectInput(new File("/dev/null"))
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve(name + ".log").toFile())).redirectErrorStream(true).start();
        bench.daemons.add(p);
        return p;
    }

    /** Ends a daemon and reaps it: SIGTERM (protect thaws and leaves the freezer on it) or SIGKILL. */
    private void end(Process p, boolean gently) throws InterruptedException {
        if (gently) {
            p.destroy();
            if (!p.waitFor(20, TimeUnit.SECONDS)) log("WARNING: %d did not stop on SIGTERM in 20 s: killing it", p.pid());
        }
        p.destroyForcibly();
        p.waitFor();
        bench.daemons.remove(p);
    }

    private static void awaitListening(int port, Process p) throws IOException, InterruptedException {
        if (LocalProcesses.awaitListening(port, p, Duration.ofSeconds(60), 50)) return;
        if (!p.isAlive()) throw new IOException("backup exited with status " + p.exitValue() + " at start");
        throw new IOException("backup not listening on " + port + " within 60 s");
    }
}
