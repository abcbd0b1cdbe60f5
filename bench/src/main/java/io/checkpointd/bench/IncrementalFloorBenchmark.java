package io.checkpointd.bench;

import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import io.checkpointd.demo.KvServerProcess;
import io.checkpointd.demo.KvWorkload;
import io.checkpointd.demo.LoadGenerator;
import io.checkpointd.linux.Errno;
import io.checkpointd.linux.ProcessMemory;
import io.checkpointd.linux.ProcessMemory.RemoteRange;
import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.Syscalls;
import io.checkpointd.linux.WaitStatus;
import io.checkpointd.linux.criu.Criu;
import io.checkpointd.linux.criu.DumpOptions;
import io.checkpointd.linux.criu.Reaper;
import io.checkpointd.linux.freezer.Freezer;
import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.proc.Vma;
import io.checkpointd.linux.uffd.PagemapScan;
import io.checkpointd.linux.uffd.PagemapScan.PageRegion;
import io.checkpointd.linux.uffd.UffdTracker;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;

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
 *
 * <p>Every process started here is tracked and ended by its pid; the freezer cgroup is removed.
 */
public final class IncrementalFloorBenchmark {
    /** JVM flags of the protected workload. */
    public static final List<String> WORKLOAD_JVM_ARGS =
            List.of("-Xms1g", "-Xmx1g", "-XX:+AlwaysPreTouch", "-XX:-UsePerfData");
    static final String BEGIN = "<!-- incremental-floor:begin -->";
    static final String END = "<!-- incremental-floor:end -->";

    // ptrace requests and constants (x86_64)
    static final long PTRACE_GETREGS = 12, PTRACE_DETACH = 17, PTRACE_GETREGSET = 0x4204, PTRACE_SEIZE = 0x4206,
            PTRACE_INTERRUPT = 0x4207, PTRACE_PEEKSIGINFO = 0x4209, PTRACE_GETSIGMASK = 0x420a;
    static final long NT_X86_XSTATE = 0x202;
    static final int PTRACE_EVENT_STOP = 128;

    interface PtraceC extends Library {
        PtraceC INSTANCE = Native.load("c", PtraceC.class);

        long ptrace(long request, int pid, long addr, long data);
    }

    record Options(int liveMb, int threads, int rateKb, int epochs100, int epochs25, int warmup, int criuDumps,
            double structureSeconds, Path docs, Path workDir) {
    }

    /** One floor epoch's figures (ms, bytes, counts). */
    record Epoch(double pause, double freeze, double stop, double scan, double copy, double regs, double detach,
            long dirtyBytes, long newBytes, int threads, int newVmas, int notTracked, int copyFailures, double maps,
            double runDelay, boolean gc, long regions) {
    }

    record FloorResult(int periodMs, List<Epoch> epochs, double wallSeconds, int threadChanges, long xstateBytes) {
    }

    record CriuDump(double wallMs, double freezingMs, double frozenMs, double memdumpMs, double memwriteMs,
            long pagesWritten) {
    }

    private final Options opt;
    private final Memory regsBuf = new Memory(27 * 8);
    private final Memory xstateBuf = new Memory(16384);
    private final Memory iov = new Memory(16);
    private final Memory sigmask = new Memory(8);
    private final Memory peekArgs = new Memory(16);
    private final Memory siginfo = new Memory(128);
    private String frozenGetregs = "not tried";
    private long xstateBytes;

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

            FloorResult f100, f25;
            List<CriuDump> dumps;
            try (Freezer freezer = Freezer.forProcess(pid)) {
                try (UffdTracker tracker = UffdTracker.attach(pid); PagemapScan pm = PagemapScan.open(pid)) {
                    Floor floor = new Floor(pid, freezer, tracker, pm);
                    long tr = System.nanoTime();
                    floor.trackInitial();
                    log("tracking %d ranges, %d MB registered, in %.1f ms", floor.tracked.size(), floor.trackedBytes() >> 20,
                            (System.nanoTime() - tr) / 1e6);
                    f100 = floor.run(100, opt.epochs100());
                    log("%s", floorLine(f100));
                    f25 = floor.run(25, opt.epochs25());
                    log("%s", floorLine(f25));
                } // closing the tracker drops the registrations: the CRIU engine runs on an untracked process
                dumps = criuDumps(pid, freezer, dir);
            }
            StructureSampler.Result kvStructure = opt.structureSeconds() > 0 ? sampleKvServer(dir) : null;
            if (kvStructure != null) log("%s", kvStructure.line());
            String section = report(f100, f25, dumps, wlStructure, kvStructure);
            System.out.println();
            System.out.println(section);
            if (!opt.docs().toString().equals("-")) {
                writeSection(opt.docs(), section);
                log("wrote %s", opt.docs());
            }
        } finally {
            if (pid > 0 && !Reaper.killAndReap(pid, Duration.ofSeconds(20))) log("WARNING: workload %d still there", pid);
            deleteTree(dir);
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

    // ---------------------------------------------------------------- floor

    final class Floor {
        final int pid;
        final Freezer freezer;
        final UffdTracker tracker;
        final PagemapScan pm;
        final Path state;
        final TreeMap<Long, Long> tracked = new TreeMap<>(); // disjoint registered ranges, start -> end
        final ByteBuffer staging = ByteBuffer.allocateDirect(256 << 20);
        List<Integer> lastTids = List.of();
        final java.util.Set<Long> failedRegistrations = new java.util.HashSet<>();

        Floor(int pid, Freezer freezer, UffdTracker tracker, PagemapScan pm) {
            this.pid = pid;
            this.freezer = freezer;
            this.tracker = tracker;
            this.pm = pm;
            this.state = freezer.cgroup().resolve("freezer.state");
        }

        long trackedBytes() {
            long n = 0;
            for (Map.Entry<Long, Long> e : tracked.entrySet()) n += e.getValue() - e.getKey();
            return n;
        }

        void trackInitial() throws IOException {
            freeze();
            try {
                registerUncovered(ProcFs.maps(pid), null);
            } finally {
                thaw();
            }
        }

        FloorResult run(int periodMs, int epochs) throws IOException {
            List<Epoch> out = new ArrayList<>();
            int threadChanges = 0;
            long start = System.nanoTime(), next = start;
            long measuredStart = start;
            for (int e = 0; e < opt.warmup() + epochs; e++) {
                if (e == opt.warmup()) {
                    measuredStart = System.nanoTime();
                    next = measuredStart;
                }
                next += periodMs * 1_000_000L;
                long wait = next - System.nanoTime();
                if (wait > 0) LockSupport.parkNanos(wait);
                int before = lastTids.size();
                List<Integer> prev = lastTids;
                Epoch ep = epoch(e == 0 && periodMs == 100);
                if (e >= opt.warmup()) {
                    out.add(ep);
                    if (!prev.equals(lastTids) && before > 0) threadChanges++;
                }
            }
            double wall = (System.nanoTime() - measuredStart) / 1e9;
            return new FloorResult(periodMs, out, wall, threadChanges, xstateBytes);
        }

        Epoch epoch(boolean probeFrozenRegs) throws IOException {
            long gc0 = gcCount();
            long delay0 = runDelayNanos();
            long t0 = System.nanoTime();
            freeze();
            long t1 = System.nanoTime();
            List<Integer> tids = ProcFs.threads(pid);
            List<Integer> seized = new ArrayList<>(tids.size());
            int[] pendingSig = new int[tids.size()];
            boolean thawed = false;
            try {
                for (int tid : tids) {
                    if (PtraceC.INSTANCE.ptrace(PTRACE_SEIZE, tid, 0, 0) < 0) {
                        int err = Native.getLastError();
                        if (err == Errno.ESRCH) continue; // exiting thread
                        throw new SyscallException("ptrace(PTRACE_SEIZE)", err, "tid " + tid);
                    }
                    seized.add(tid);
                    check(PtraceC.INSTANCE.ptrace(PTRACE_INTERRUPT, tid, 0, 0), "PTRACE_INTERRUPT", tid);
                }
                if (probeFrozenRegs) {
                    long r = PtraceC.INSTANCE.ptrace(PTRACE_GETREGS, seized.get(0), 0, Pointer.nativeValue(regsBuf));
                    frozenGetregs = r < 0 ? "fails with errno " + Native.getLastError() + " (" + errName(Native.getLastError()) + ")"
                            : "works";
                    WaitStatus w = Syscalls.waitpid(seized.get(0), Syscalls.__WALL | Syscalls.WNOHANG);
                    frozenGetregs += w.pid() == 0 ? "; no ptrace-stop is reported while frozen" : "; a stop was reported while frozen: " + w;
                    if (w.pid() != 0) pendingSig[0] = -1; // already consumed (not expected)
                }
                thaw();
                thawed = true;
                for (int i = 0; i < seized.size(); i++) {
                    if (pendingSig[i] == -1) {
                        pendingSig[i] = 0;
                        continue;
                    }
                    WaitStatus st = waitStopped(seized.get(i));
                    if (st.exited() || st.signaled()) {
                        seized.set(i, -1);
                    } else if (st.ptraceEvent() != PTRACE_EVENT_STOP && st.stopSig() != Syscalls.SIGTRAP) {
                        pendingSig[i] = st.stopSig(); // a signal-delivery-stop came first: deliver it on detach
                    }
                }
                long t2 = System.nanoTime();

                // scan: maps, written ranges of every tracked range, newly writable VMAs
                List<Vma> maps = ProcFs.maps(pid);
                long tMaps = System.nanoTime();
                List<RemoteRange> copy = new ArrayList<>();
                long dirty = 0;
                int notTracked = 0;
                dropUnmapped(maps);
                List<PageRegion> written = new ArrayList<>();
                List<long[]> lost = new ArrayList<>();
                for (Map.Entry<Long, Long> r : tracked.entrySet()) {
                    try {
                        pm.written(r.getKey(), r.getValue(), true, written);
                    } catch (SyscallException ex) {
                        if (ex.errno() != Errno.EPERM) throw ex;
                        pm.scan(r.getKey(), r.getValue(), PagemapScan.PM_SCAN_WP_MATCHING, PagemapScan.PAGE_IS_WRITTEN,
                                0, 0, PagemapScan.PAGE_IS_WRITTEN, written);
                        lost.add(new long[] {r.getKey(), r.getValue()});
                        notTracked++;
                    }
                }
                for (long[] l : lost) tracked.remove(l[0]); // re-registered (and copied whole) below
                for (PageRegion w : written) {
                    copy.add(new RemoteRange(w.start(), w.length()));
                    dirty += w.length();
                }
                List<RemoteRange> fresh = new ArrayList<>();
                int newVmas = registerUncovered(maps, fresh);
                long newBytes = 0;
                for (RemoteRange r : fresh) newBytes += r.length();
                copy.addAll(fresh);
                long t3 = System.nanoTime();

                int failures = copyAll(copy);
                long t4 = System.nanoTime();

                for (int tid : seized) if (tid > 0) captureRegisters(tid);
                for (int tid : seized) {
                    if (tid > 0) {
                        peekSiginfo(tid, 1); // the shared pending queue, once per process
                        break;
                    }
                }
                long t5 = System.nanoTime();

                for (int i = 0; i < seized.size(); i++) {
                    int tid = seized.get(i);
                    if (tid > 0) check(PtraceC.INSTANCE.ptrace(PTRACE_DETACH, tid, 0, pendingSig[i]), "PTRACE_DETACH", tid);
                }
                seized.clear();
                long t6 = System.nanoTime();
                long delay = runDelayNanos() - delay0;
                lastTids = tids;
                return new Epoch(ms(t6 - t0), ms(t1 - t0), ms(t2 - t1), ms(t3 - t2), ms(t4 - t3), ms(t5 - t4), ms(t6 - t5),
                        dirty, newBytes, tids.size(), newVmas, notTracked, failures, ms(tMaps - t2), ms(delay),
                        gcCount() != gc0, written.size());
            } finally {
                if (!thawed) thaw();
                for (int tid : seized) if (tid > 0) PtraceC.INSTANCE.ptrace(PTRACE_DETACH, tid, 0, 0); // error path only
            }
        }

        /** Drops tracked ranges (or parts) no longer mapped privately; read-only ones stay tracked (see below). */
        void dropUnmapped(List<Vma> maps) {
            TreeMap<Long, Long> keep = new TreeMap<>();
            // A tracked range made read-only (mprotect) stays registered and must still be scanned: pages written
            // just before the mprotect are reported only there. So intersect with all private mappings.
            List<long[]> priv = merged(maps, v -> v.isPrivate() && !v.isSpecial());
            for (Map.Entry<Long, Long> t : tracked.entrySet()) {
                for (long[] p : priv) {
                    long s = Math.max(t.getKey(), p[0]), e = Math.min(t.getValue(), p[1]);
                    if (s < e) keep.put(s, e);
                }
            }
            tracked.clear();
            tracked.putAll(keep);
        }

        /**
         * Registers every part of a private writable VMA not yet tracked and adds its present pages to
         * {@code fresh} (they were never seen: copy them whole). Returns the number of parts registered.
         */
        int registerUncovered(List<Vma> maps, List<RemoteRange> fresh) throws IOException {
            int n = 0;
            for (long[] w : merged(maps, v -> v.isWritable() && v.isPrivate() && !v.isSpecial())) {
                long pos = w[0];
                Map.Entry<Long, Long> before = tracked.floorEntry(pos);
                if (before != null && before.getValue() > pos) pos = before.getValue();
                while (pos < w[1]) {
                    Long nextStart = tracked.ceilingKey(pos);
                    long end = nextStart == null ? w[1] : Math.min(w[1], nextStart);
                    if (pos < end) {
                        if (fresh != null) {
                            for (PageRegion r : pm.scan(pos, end, 0, 0, PagemapScan.PAGE_IS_PRESENT | PagemapScan.PAGE_IS_SWAPPED,
                                    0, PagemapScan.PAGE_IS_PRESENT)) {
                                fresh.add(new RemoteRange(r.start(), r.length()));
                            }
                        }
                        try {
                            tracker.track(pos, end);
                            tracked.put(pos, end);
                            n++;
                        } catch (SyscallException e) {
                            if (failedRegistrations.add(pos)) log("cannot register %x-%x: %s", pos, end, e.getMessage());
                        }
                    }
                    if (nextStart == null || nextStart >= w[1]) break;
                    pos = tracked.get(nextStart);
                }
            }
            // coalesce adjacent ranges so the next scans make fewer calls
            TreeMap<Long, Long> c = new TreeMap<>();
            long cs = -1, ce = -1;
            for (Map.Entry<Long, Long> e : tracked.entrySet()) {
                if (e.getKey() == ce) {
                    ce = e.getValue();
                } else {
                    if (cs >= 0) c.put(cs, ce);
                    cs = e.getKey();
                    ce = e.getValue();
                }
            }
            if (cs >= 0) c.put(cs, ce);
            tracked.clear();
            tracked.putAll(c);
            return n;
        }

        int copyAll(List<RemoteRange> copy) {
            int failures = 0;
            List<RemoteRange> batch = new ArrayList<>();
            long size = 0;
            staging.clear();
            for (RemoteRange r : copy) {
                if (size + r.length() > staging.capacity()) {
                    failures += copyBatch(batch);
                    batch.clear();
                    size = 0;
                    staging.clear(); // a bench reuses the buffer; an engine would stage everything
                }
                batch.add(r);
                size += r.length();
            }
            failures += copyBatch(batch);
            return failures;
        }

        private int copyBatch(List<RemoteRange> batch) {
            if (batch.isEmpty()) return 0;
            try {
                ProcessMemory.read(pid, batch, staging);
                return 0;
            } catch (SyscallException e) {
                return 1; // e.g. a written page that is PROT_NONE now: an engine would read /proc/PID/mem
            }
        }

        void freeze() throws IOException {
            write(state, "FROZEN");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (!Files.readString(state).startsWith("FROZEN")) {
                if (System.nanoTime() - deadline > 0) {
                    write(state, "THAWED");
                    throw new IOException("not frozen in 5 s");
                }
                Thread.onSpinWait();
            }
        }

        void thaw() throws IOException {
            write(state, "THAWED");
        }
    }

    /** Time this thread spent runnable but waiting for a CPU ({@code /proc/thread-self/schedstat}, field 2). */
    static long runDelayNanos() {
        try {
            String[] f = Files.readString(Path.of("/proc/thread-self/schedstat")).trim().split("\\s+");
            return Long.parseLong(f[1]);
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    static long gcCount() {
        long n = 0;
        for (java.lang.management.GarbageCollectorMXBean b : java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()) {
            n += Math.max(0, b.getCollectionCount());
        }
        return n;
    }

    private static void write(Path p, String v) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.write(v.getBytes(StandardCharsets.US_ASCII));
        }
    }

    private static List<long[]> merged(List<Vma> maps, java.util.function.Predicate<Vma> which) {
        List<long[]> out = new ArrayList<>();
        for (Vma v : maps) {
            if (!which.test(v)) continue;
            long[] last = out.isEmpty() ? null : out.get(out.size() - 1);
            if (last != null && last[1] == v.start()) last[1] = v.end();
            else out.add(new long[] {v.start(), v.end()});
        }
        return out;
    }

    private static WaitStatus waitStopped(int tid) throws IOException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (true) {
            WaitStatus st = Syscalls.waitpid(tid, Syscalls.__WALL | Syscalls.WNOHANG);
            if (st.pid() != 0) return st;
            if (System.nanoTime() - deadline > 0) throw new IOException("tid " + tid + ": no ptrace-stop in 5 s");
            Thread.onSpinWait();
        }
    }

    private void captureRegisters(int tid) throws SyscallException {
        check(PtraceC.INSTANCE.ptrace(PTRACE_GETREGS, tid, 0, Pointer.nativeValue(regsBuf)), "PTRACE_GETREGS", tid);
        iov.setLong(0, Pointer.nativeValue(xstateBuf));
        iov.setLong(8, xstateBuf.size());
        check(PtraceC.INSTANCE.ptrace(PTRACE_GETREGSET, tid, NT_X86_XSTATE, Pointer.nativeValue(iov)), "PTRACE_GETREGSET(NT_X86_XSTATE)", tid);
        xstateBytes = iov.getLong(8);
        check(PtraceC.INSTANCE.ptrace(PTRACE_GETSIGMASK, tid, 8, Pointer.nativeValue(sigmask)), "PTRACE_GETSIGMASK", tid);
        peekSiginfo(tid, 0);
    }

    /** Reads up to one pending siginfo (a real engine loops until 0 are returned). */
    private void peekSiginfo(int tid, int flags) throws SyscallException {
        peekArgs.setLong(0, 0);          // off
        peekArgs.setInt(8, flags);       // flags: 0 per-thread, 1 PTRACE_PEEKSIGINFO_SHARED
        peekArgs.setInt(12, 1);          // nr
        check(PtraceC.INSTANCE.ptrace(PTRACE_PEEKSIGINFO, tid, Pointer.nativeValue(peekArgs), Pointer.nativeValue(siginfo)),
                "PTRACE_PEEKSIGINFO", tid);
    }

    private static void check(long r, String what, int tid) throws SyscallException {
        if (r < 0) throw new SyscallException("ptrace(" + what + ")", Native.getLastError(), "tid " + tid);
    }

    private static String errName(int e) {
        return e == Errno.ESRCH ? "ESRCH" : e == Errno.EPERM ? "EPERM" : "errno " + e;
    }

    // ---------------------------------------------------------------- CRIU

    private List<CriuDump> criuDumps(int pid, Freezer freezer, Path dir) throws Exception {
        List<CriuDump> out = new ArrayList<>();
        if (opt.criuDumps() <= 0) return out;
        Criu criu = Criu.locate();
        for (int i = 0; i < opt.criuDumps(); i++) {
            Path img = Files.createDirectory(dir.resolve("criu-" + i));
            long t0 = System.nanoTime();
            criu.dump(DumpOptions.builder(pid, img).leaveRunning(true).freezeCgroup(freezer.cgroup().toString())
                    .logFile("dump.log").build());
            double wall = ms(System.nanoTime() - t0);
            long[] s = readDumpStats(img.resolve("stats-dump"));
            CriuDump d = new CriuDump(wall, s[1] / 1e3, s[2] / 1e3, s[3] / 1e3, s[4] / 1e3, s[7]);
            out.add(d);
            log("criu dump %d: wall %.0f ms, freezing %.1f ms, frozen %.1f ms (memdump %.1f, memwrite %.1f), %d pages",
                    i, d.wallMs(), d.freezingMs(), d.frozenMs(), d.memdumpMs(), d.memwriteMs(), d.pagesWritten());
            deleteTree(img);
            Thread.sleep(100); // one epoch of the workload between dumps
        }
        return out;
    }

    /**
     * Fields of {@code dump_stats_entry} (images/stats.proto) by number, from CRIU's {@code stats-dump} image:
     * magic(s), then a 32-bit length and the protobuf {@code stats_entry { optional dump_stats_entry dump = 1; }}.
     */
    static long[] readDumpStats(Path file) throws IOException {
        byte[] b = Files.readAllBytes(file);
        for (int off = 4; off <= 8; off += 4) {
            if (b.length < off + 4) continue;
            long len = le32(b, off);
            if (off + 4 + len != b.length) continue;
            long[] outer = new long[16];
            int[] sub = new int[2];
            parse(b, off + 4, b.length, outer, sub);
            long[] f = new long[16];
            if (sub[1] > 0) parse(b, sub[0], sub[0] + sub[1], f, null);
            return f;
        }
        throw new IOException("cannot parse " + file);
    }

    private static void parse(byte[] b, int pos, int end, long[] fields, int[] sub) {
        while (pos < end) {
            long[] v = new long[1];
            pos = varint(b, pos, v);
            int field = (int) (v[0] >>> 3), type = (int) (v[0] & 7);
            if (type == 0) {
                pos = varint(b, pos, v);
                if (field < fields.length) fields[field] = v[0];
            } else if (type == 2) {
                pos = varint(b, pos, v);
                if (sub != null && field == 1) {
                    sub[0] = pos;
                    sub[1] = (int) v[0];
                }
                pos += (int) v[0];
            } else {
                return; // not used by stats.proto
            }
        }
    }

    private static int varint(byte[] b, int pos, long[] out) {
        long r = 0;
        int shift = 0;
        while (true) {
            int x = b[pos++] & 0xff;
            r |= (long) (x & 0x7f) << shift;
            if ((x & 0x80) == 0) break;
            shift += 7;
        }
        out[0] = r;
        return pos;
    }

    private static long le32(byte[] b, int off) {
        return (b[off] & 0xffL) | (b[off + 1] & 0xffL) << 8 | (b[off + 2] & 0xffL) << 16 | (b[off + 3] & 0xffL) << 24;
    }

    // ---------------------------------------------------------------- report

    static double pct(double[] sorted, double p) {
        if (sorted.length == 0) return Double.NaN;
        int i = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }

    static double[] sorted(List<Epoch> es, java.util.function.ToDoubleFunction<Epoch> f) {
        double[] a = es.stream().mapToDouble(f).toArray();
        Arrays.sort(a);
        return a;
    }

    static double mean(double[] a) {
        return Arrays.stream(a).average().orElse(Double.NaN);
    }

    private static String floorLine(FloorResult r) {
        double[] p = sorted(r.epochs(), Epoch::pause);
        return String.format(Locale.ROOT, "floor @%d ms: %d epochs, pause p50 %.2f p99 %.2f max %.2f ms, %.1f epochs/s",
                r.periodMs(), r.epochs().size(), pct(p, 50), pct(p, 99), p[p.length - 1], r.epochs().size() / r.wallSeconds());
    }

    String report(FloorResult f100, FloorResult f25, List<CriuDump> dumps, StructureSampler.Result wl,
            StructureSampler.Result kv) throws IOException {
        StringBuilder s = new StringBuilder();
        String cpu = cpuModel();
        s.append("## Incremental checkpoint: physical floor vs. full CRIU dump\n\n");
        s.append(String.format(Locale.ROOT, "Measured %s by `bin/checkpointd-bench-floor` (`io.checkpointd.bench.IncrementalFloorBenchmark`)"
                        + " on %s, %d cores, kernel %s, one run. Protected process: `DirtyingWorkload`, `%s`, %d MB live"
                        + " `long[]` data, %d writer threads (%d threads in all), dirtying ~%d KB per 100 ms at random pages."
                        + " %d warm-up epochs per period are not counted.\n\n",
                LocalDate.now(), cpu, Runtime.getRuntime().availableProcessors(), System.getProperty("os.version"),
                String.join(" ", WORKLOAD_JVM_ARGS), opt.liveMb(), opt.threads(), f100.epochs().get(0).threads(), opt.rateKb(),
                opt.warmup()));
        s.append("| engine | period | epochs | pause p50 | pause p99 | pause max | freeze | stop (seize+thaw+wait) | scan (maps) | copy | regs | detach | dirty MB/epoch | epochs/s |\n");
        s.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (FloorResult r : List.of(f100, f25)) {
            List<Epoch> e = r.epochs();
            double[] p = sorted(e, Epoch::pause);
            s.append(String.format(Locale.ROOT, "| floor (uffd-wp + ptrace) | %d ms | %d | %.2f ms | %.2f ms | %.2f ms | %.2f | %.2f | %.2f (%.2f) | %.2f | %.2f | %.2f | %.2f | %.1f |\n",
                    r.periodMs(), e.size(), pct(p, 50), pct(p, 99), p[p.length - 1],
                    pct(sorted(e, Epoch::freeze), 50), pct(sorted(e, Epoch::stop), 50), pct(sorted(e, Epoch::scan), 50),
                    pct(sorted(e, Epoch::maps), 50),
                    pct(sorted(e, Epoch::copy), 50), pct(sorted(e, Epoch::regs), 50), pct(sorted(e, Epoch::detach), 50),
                    mean(sorted(e, x -> (x.dirtyBytes() + x.newBytes()) / 1048576.0)), e.size() / r.wallSeconds()));
        }
        if (!dumps.isEmpty()) {
            double[] fz = dumps.stream().mapToDouble(d -> d.freezingMs() + d.frozenMs()).sorted().toArray();
            double[] wall = dumps.stream().mapToDouble(CriuDump::wallMs).sorted().toArray();
            double[] mem = dumps.stream().mapToDouble(CriuDump::memdumpMs).sorted().toArray();
            double[] nonMem = dumps.stream().mapToDouble(d -> d.freezingMs() + d.frozenMs() - d.memdumpMs()).sorted().toArray();
            double pages = dumps.stream().mapToDouble(CriuDump::pagesWritten).average().orElse(0);
            s.append(String.format(Locale.ROOT, "| full `criu dump --leave-running` to tmpfs | back to back | %d | %.0f ms | %.0f ms | %.0f ms | (freezing+frozen, CRIU stats) | | | memdump %.0f | | | %.0f | %.2f |\n",
                    dumps.size(), pct(fz, 50), pct(fz, 99), fz[fz.length - 1], pct(mem, 50), pages * 4096 / 1048576.0,
                    1000.0 / mean(wall)));
            s.append(String.format(Locale.ROOT, "| CRIU without its memory part (frozen − memdump, from the same dumps) | | %d | %.0f ms | %.0f ms | %.0f ms | | | | | | | | |\n",
                    dumps.size(), pct(nonMem, 50), pct(nonMem, 99), nonMem[nonMem.length - 1]));
        }
        s.append("\nColumns freeze … detach are medians in ms (pause = their sum per epoch). ");
        s.append(String.format(Locale.ROOT, "Per thread, stop + regs + detach cost %.1f µs at 100 ms (median epoch / %d threads); "
                        + "the XSAVE area read with `PTRACE_GETREGSET NT_X86_XSTATE` is %d bytes per thread. ",
                (pct(sorted(f100.epochs(), Epoch::stop), 50) + pct(sorted(f100.epochs(), Epoch::regs), 50)
                        + pct(sorted(f100.epochs(), Epoch::detach), 50)) * 1000 / f100.epochs().get(0).threads(),
                f100.epochs().get(0).threads(), f100.xstateBytes()));
        s.append("Reading registers of a thread of a frozen cgroup after `PTRACE_SEIZE`+`PTRACE_INTERRUPT`: ")
                .append(frozenGetregs).append("; so the floor uses CRIU's recipe (seize+interrupt while frozen, thaw, wait for the"
                        + " ptrace-stops, capture, detach) and counts all of it in the pause.\n");
        for (FloorResult r : List.of(f100, f25)) {
            List<Epoch> e = r.epochs();
            double[] net = sorted(e, x -> x.pause() - x.runDelay());
            double[] quiet = e.stream().filter(x -> x.runDelay() < 0.5 && !x.gc()).mapToDouble(Epoch::pause).sorted().toArray();
            s.append(String.format(Locale.ROOT, "- %d ms: the harness thread waited for a CPU during the pause for %.2f ms (p50) / %.2f ms (p99)"
                            + " (`/proc/thread-self/schedstat`: other jobs share the 2 cores); pause minus that wait: p50 %.2f, p99 %.2f ms;"
                            + " %d epochs waited < 0.5 ms and had no harness GC: their pause p50 %.2f, p99 %.2f ms. Mean %.0f dirty regions per epoch;"
                            + " copy rate p50 %.2f GB/s.\n",
                    r.periodMs(), pct(sorted(e, Epoch::runDelay), 50), pct(sorted(e, Epoch::runDelay), 99), pct(net, 50), pct(net, 99),
                    quiet.length, pct(quiet, 50), pct(quiet, 99), e.stream().mapToLong(Epoch::regions).average().orElse(0),
                    pct(sorted(e, x -> (x.dirtyBytes() + x.newBytes()) / 1e6 / Math.max(1e-3, x.copy())), 50)));
        }
        for (FloorResult r : List.of(f100, f25)) {
            int newV = r.epochs().stream().mapToInt(Epoch::newVmas).sum();
            long newB = r.epochs().stream().mapToLong(Epoch::newBytes).sum();
            int nt = r.epochs().stream().mapToInt(Epoch::notTracked).sum();
            int fails = r.epochs().stream().mapToInt(Epoch::copyFailures).sum();
            long withNew = r.epochs().stream().filter(x -> x.newVmas() > 0).count();
            s.append(String.format(Locale.ROOT, "- %d ms: %d of %d epochs registered new/grown VMA parts (%d in all, %.1f MB of present"
                            + " pages copied whole); %d tracked ranges lost registration; thread set changed in %d epochs;"
                            + " %d copy failures; epochs/s counts wall time from the first measured epoch.\n",
                    r.periodMs(), withNew, r.epochs().size(), newV, newB / 1048576.0, nt, r.threadChanges(), fails));
        }
        if (wl != null || kv != null) {
            s.append("\nStructure changes sampled every 25 ms for ").append((int) opt.structureSeconds())
                    .append(" s (not while checkpointing):\n\n");
            s.append("| process | epochs | with any change | maps | of which only anonymous VMAs | writable private maps | threads | fds | threads or fds | VMAs | threads | fds |\n");
            s.append("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
            for (StructureSampler.Result r : Stream.of(wl, kv).filter(x -> x != null).toList()) {
                s.append(String.format(Locale.ROOT, "| %s | %d | %d (%.1f%%) | %d | %d | %d | %d | %d | %d | %d→%d | %d→%d | %d→%d |\n",
                        r.name(), r.epochs(), r.anyChange(), 100.0 * r.anyChange() / Math.max(1, r.epochs()), r.mapsChange(),
                        r.mapsChangeAnonOnly(), r.writableMapsChange(), r.threadsChange(), r.fdsChange(), r.threadsOrFdsChange(), r.vmasFirst(), r.vmasLast(),
                        r.threadsFirst(), r.threadsLast(), r.fdsFirst(), r.fdsLast()));
            }
            for (StructureSampler.Result r : Stream.of(wl, kv).filter(x -> x != null).toList()) {
                if (!r.examples().isEmpty()) {
                    s.append("\nFirst maps changes of ").append(r.name()).append(" (removed + added `range perms path`):\n");
                    for (String ex : r.examples()) s.append("`").append(ex.substring(2)).append("`\n");
                }
            }
        }
        return s.toString();
    }

    private static String cpuModel() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (l.startsWith("model name")) return l.substring(l.indexOf(':') + 1).trim();
            }
        } catch (IOException e) {
            // fall through
        }
        return "unknown CPU";
    }

    /** Replaces (or appends) the marked section of {@code file}, keeping everything else. */
    static void writeSection(Path file, String section) throws IOException {
        writeSection(file, section, BEGIN, END);
    }

    /** Same, between the given markers (each benchmark owns its section). */
    static void writeSection(Path file, String section, String begin, String end) throws IOException {
        String block = begin + "\n" + section.strip() + "\n" + end;
        String text = Files.exists(file) ? Files.readString(file) : "# Benchmarks\n";
        int b = text.indexOf(begin), e = text.indexOf(end);
        String out;
        if (b >= 0 && e > b) out = text.substring(0, b) + block + text.substring(e + end.length());
        else out = text.stripTrailing() + "\n\n" + block + "\n";
        Files.writeString(file, out);
    }

    // ---------------------------------------------------------------- misc

    private static double ms(long nanos) {
        return nanos / 1e6;
    }

    private static void log(String fmt, Object... args) {
        System.err.println("[bench] " + String.format(Locale.ROOT, fmt, args));
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }
}
