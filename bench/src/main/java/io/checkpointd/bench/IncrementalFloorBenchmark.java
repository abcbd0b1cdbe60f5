package io.checkpointd.bench;

import io.checkpointd.bench.CriuDumps.CriuDump;
import io.checkpointd.demo.KvServerProcess;
import io.checkpointd.demo.KvWorkload;
import io.checkpointd.demo.LoadGenerator;
import io.checkpointd.linux.Syscalls;
import io.checkpointd.linux.criu.Reaper;
import io.checkpointd.linux.freezer.Freezer;
import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.uffd.PagemapScan;
import io.checkpointd.linux.uffd.UffdTracker;
import io.checkpointd.protocol.image.ImageDirs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * The physical floor of an incremental checkpoint of a 1 GiB JVM, next to the full-CRIU-dump engine, in one run
 * against one {@link DirtyingWorkload} process (see {@code docs/benchmarks.md}, section "incremental floor").
 *
 * <p>Floor epoch, every {@code --period} ms:
 * <ol>
 *   <li><b>freeze</b> the cgroup (v1 {@code freezer.state}, polled without sleeping);</li>
 *   <li><b>stop</b>: {@code PTRACE_SEIZE} + {@code PTRACE_INTERRUPT} every thread while frozen, thaw, wait for
 *       every thread's ptrace-stop. This is CRIU's own recipe (seize.c): a frozen task accepts SEIZE and
 *       INTERRUPT but cannot reach the ptrace-stop, so its registers cannot be read ({@code ESRCH}, checked and
 *       reported in epoch 0) until the cgroup is thawed; on thaw it stops before running user code. Memory is
 *       captured after the stop, not while frozen: a thread frozen inside a syscall may still complete it on
 *       thaw (e.g. copy received data to user memory) before it stops;</li>
 *   <li><b>scan</b>: re-read {@code /proc/PID/maps}, PAGEMAP_SCAN + PM_SCAN_WP_MATCHING over every tracked
 *       range, then register private writable VMAs (or parts) not tracked yet and take their present pages;</li>
 *   <li><b>copy</b> exactly those pages with {@code process_vm_readv} into a staging buffer;</li>
 *   <li><b>regs</b>: per thread GETREGS, GETREGSET(NT_X86_XSTATE), GETSIGMASK, PEEKSIGINFO (+ shared queue);</li>
 *   <li><b>detach</b> every thread (resumes it).</li>
 * </ol>
 * Pause = 1..6. Nothing else (compression, shipping) is done: that happens after the pause in a real engine.
 * The epochs are {@link Floor}'s, the dumps {@link CriuDumps}', the section {@link FloorReport}'s; this class runs them.
 *
 * <p>Every process started here is tracked and ended by its pid; the freezer cgroup is removed.
 */
public final class IncrementalFloorBenchmark {
    /** JVM flags of the protected workload. */
    public static final List<String> WORKLOAD_JVM_ARGS =
            List.of("-Xms1g", "-Xmx1g", "-XX:+AlwaysPreTouch", "-XX:-UsePerfData");
    static final String BEGIN = "<!-- incremental-floor:begin -->";
    static final String END = "<!-- incremental-floor:end -->";


    /** The command line's settings. */
    record Options(int liveMb, int threads, int rateKb, int epochs100, int epochs25, int warmup, int criuDumps,
            double structureSeconds, Path docs, Path workDir) {
    }

    private final Options opt;

    IncrementalFloorBenchmark(Options opt) {
        this.opt = opt;
    }

    public static void main(String[] args) throws Exception {
        int liveMb = 480, threads = 24, rateKb = 4096, e100 = 150, e25 = 400, warmup = 5, criu = 10;
        double structure = 20;
        Path docs = Path.of("docs/benchmarks.md"), work = Path.of("/dev/shm");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--live-mb" -> liveMb = Integer.parseInt(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--rate-kb" -> rateKb = Integer.parseInt(args[++i]);
                case "--epochs-100" -> e100 = Integer.parseInt(args[++i]);
                case "--epochs-25" -> e25 = Integer.parseInt(args[++i]);
                case "--warmup" -> warmup = Integer.parseInt(args[++i]);
                case "--criu-dumps" -> criu = Integer.parseInt(args[++i]);
                case "--structure-seconds" -> structure = Double.parseDouble(args[++i]);
                case "--docs" -> docs = Path.of(args[++i]);
                case "--work-dir" -> work = Path.of(args[++i]);
                default -> {
                    System.err.println("usage: checkpointd-bench-floor [--live-mb N] [--threads N] [--rate-kb KB-per-100ms]"
                            + " [--epochs-100 N] [--epochs-25 N] [--warmup N] [--criu-dumps N] [--structure-seconds S]"
                            + " [--docs FILE|-] [--work-dir DIR]");
                    System.exit(2);
                }
            }
        }
        if (Syscalls.geteuid() != 0) {
            System.err.println("checkpointd-bench-floor: needs root (ptrace, cgroup freezer, CRIU)");
            System.exit(2);
        }
        new IncrementalFloorBenchmark(new Options(liveMb, threads, rateKb, e100, e25, warmup, criu, structure, docs, work)).run();
    }

    void run() throws Exception {
        Reaper.becomeChildSubreaper(); // the setsid'd workload is re-parented here, so this JVM reaps it
        Path dir = Files.createTempDirectory(opt.workDir(), "checkpointd-bench-");
        int pid = -1;
        try {
            long t0 = System.nanoTime();
            pid = startWorkload(dir);
            log("workload pid %d ready in %.1f s: %d threads, %d VMAs, RSS %s", pid, (System.nanoTime() - t0) / 1e9,
                    ProcFs.threads(pid).size(), ProcFs.maps(pid).size(), ProcFs.statusField(pid, "VmRSS").orElse("?"));
            StructureSampler.Result wlStructure = opt.structureSeconds() > 0
                    ? StructureSampler.sample("DirtyingWorkload", pid, 25, opt.structureSeconds()) : null;
            if (wlStructure != null) log("%s", wlStructure.line());

            Floor.Result f100, f25;
            List<CriuDump> dumps;
            String frozenGetregs;
            try (Freezer freezer = Freezer.forProcess(pid)) {
                try (UffdTracker tracker = UffdTracker.attach(pid); PagemapScan pm = PagemapScan.open(pid)) {
                    Floor floor = new Floor(pid, freezer, tracker, pm, opt.warmup());
                    long tr = System.nanoTime();
                    floor.trackInitial();
                    log("tracking %d ranges, %d MB registered, in %.1f ms", floor.tracked.size(), floor.trackedBytes() >> 20,
                            (System.nanoTime() - tr) / 1e6);
                    f100 = floor.run(100, opt.epochs100());
                    log("%s", FloorReport.line(f100));
                    f25 = floor.run(25, opt.epochs25());
                    log("%s", FloorReport.line(f25));
                    frozenGetregs = floor.frozenGetregs();
                } // closing the tracker drops the registrations: the CRIU engine runs on an untracked process
                dumps = CriuDumps.run(pid, freezer, dir, opt.criuDumps());
            }
            StructureSampler.Result kvStructure = opt.structureSeconds() > 0 ? sampleKvServer(dir) : null;
            if (kvStructure != null) log("%s", kvStructure.line());
            String section = FloorReport.section(opt, f100, f25, dumps, frozenGetregs, wlStructure, kvStructure);
            System.out.println();
            System.out.println(section);
            if (!opt.docs().toString().equals("-")) {
                DocSection.replaceBetween(opt.docs(), section, BEGIN, END);
                log("wrote %s", opt.docs());
            }
        } finally {
            if (pid > 0 && !Reaper.killAndReap(pid, Duration.ofSeconds(20))) log("WARNING: workload %d still there", pid);
            ImageDirs.deleteTree(dir);
        }
    }

    // ---------------------------------------------------------------- workload

    private int startWorkload(Path dir) throws IOException, InterruptedException {
        return DirtyingWorkload.startDetached(dir.resolve("workload.pid"), List.of("--live-mb", Integer.toString(opt.liveMb()),
                "--threads", Integer.toString(opt.threads()), "--rate-kb", Integer.toString(opt.rateKb()), "--period-ms", "100"));
    }

    private StructureSampler.Result sampleKvServer(Path dir) throws Exception {
        try (KvServerProcess kv = KvServerProcess.start(System.getProperty("java.class.path"), dir.resolve("kv.port"),
                Duration.ofSeconds(30))) {
            Thread load = new Thread(() -> {
                try {
                    LoadGenerator.run(KvWorkload.Config.of(kv.address()),
                            LoadGenerator.Options.forDuration(Duration.ofSeconds((long) Math.ceil(opt.structureSeconds() + 1))));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "kv-load");
            load.start();
            Thread.sleep(300); // connections up before sampling starts
            StructureSampler.Result r = StructureSampler.sample("KvServer (4 load connections)", (int) kv.pid(), 25,
                    opt.structureSeconds());
            load.join(60_000);
            return r;
        }
    }

    private static void log(String fmt, Object... args) {
        System.err.println("[bench] " + String.format(Locale.ROOT, fmt, args));
    }
}
