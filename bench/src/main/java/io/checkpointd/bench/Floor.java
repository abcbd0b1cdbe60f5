package io.checkpointd.bench;

import io.checkpointd.linux.Errno;
import io.checkpointd.linux.ProcessMemory;
import io.checkpointd.linux.ProcessMemory.RemoteRange;
import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.Syscalls;
import io.checkpointd.linux.WaitStatus;
import io.checkpointd.linux.freezer.Freezer;
import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.proc.Vma;
import io.checkpointd.linux.ptrace.Ptrace;
import io.checkpointd.linux.ptrace.ThreadState;
import io.checkpointd.linux.track.Ranges;
import io.checkpointd.linux.uffd.PagemapScan;
import io.checkpointd.linux.uffd.PagemapScan.PageRegion;
import io.checkpointd.linux.uffd.UffdTracker;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The physical floor of an incremental epoch on one tracked process (the steps are listed on
 * {@link IncrementalFloorBenchmark}): freeze, ptrace-stop every thread, scan the written pages, copy them, read the
 * registers, detach. Used by {@link IncrementalFloorBenchmark} and {@link EngineBenchmark}; it owns the tracked
 * ranges, the staging buffer and the per-epoch timing.
 */
final class Floor {
    /** One floor epoch's figures (ms, bytes, counts). */
    record Epoch(double pause, double freeze, double stop, double scan, double copy, double regs, double detach,
            long dirtyBytes, long newBytes, int threads, int newVmas, int notTracked, int copyFailures, double maps,
            double runDelay, boolean gc, long regions) {
    }

    /** The measured epochs at one period. */
    record Result(int periodMs, List<Epoch> epochs, double wallSeconds, int threadChanges, long xstateBytes) {
    }

    private final int warmup;
    private String frozenGetregs = "not tried";
    private long xstateBytes;
    final int pid;
    final Freezer freezer;
    final UffdTracker tracker;
    final PagemapScan pm;
    final Path state;
    final TreeMap<Long, Long> tracked = new TreeMap<>(); // disjoint registered ranges, start -> end
    final ByteBuffer staging = ByteBuffer.allocateDirect(256 << 20);
    List<Integer> lastTids = List.of();
    final java.util.Set<Long> failedRegistrations = new java.util.HashSet<>();

    /** {@code warmup} epochs of each {@link #run} are not counted. */
    Floor(int pid, Freezer freezer, UffdTracker tracker, PagemapScan pm, int warmup) {
        this.pid = pid;
        this.warmup = warmup;
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

    Result run(int periodMs, int epochs) throws IOException {
        List<Epoch> out = new ArrayList<>();
        int threadChanges = 0;
        long start = System.nanoTime(), next = start;
        long measuredStart = start;
        for (int e = 0; e < warmup + epochs; e++) {
            if (e == warmup) {
                measuredStart = System.nanoTime();
                next = measuredStart;
            }
            next += periodMs * 1_000_000L;
            long wait = next - System.nanoTime();
            if (wait > 0) LockSupport.parkNanos(wait);
            int before = lastTids.size();
            List<Integer> prev = lastTids;
            Epoch ep = epoch(e == 0 && periodMs == 100);
            if (e >= warmup) {
                out.add(ep);
                if (!prev.equals(lastTids) && before > 0) threadChanges++;
            }
        }
        double wall = (System.nanoTime() - measuredStart) / 1e9;
        return new Result(periodMs, out, wall, threadChanges, xstateBytes);
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
                try {
                    Ptrace.seize(tid, 0);
                } catch (SyscallException ex) {
                    if (ex.errno() == Errno.ESRCH) continue; // exiting thread
                    throw ex;
                }
                seized.add(tid);
                Ptrace.interrupt(tid);
            }
            if (probeFrozenRegs) {
                try {
                    Ptrace.getRegs(seized.get(0));
                    frozenGetregs = "works";
                } catch (SyscallException ex) {
                    frozenGetregs = "fails with errno " + ex.errno() + " (" + errName(ex.errno()) + ")";
                }
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
                } else if (st.ptraceEvent() != Ptrace.PTRACE_EVENT_STOP && st.stopSig() != Syscalls.SIGTRAP) {
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
            // a tracked range made read-only (mprotect) stays registered and must still be scanned: pages written
            // just before the mprotect are reported only there; unmapped parts drop out
            Ranges.dropUnmapped(tracked, maps);
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
                    Ptrace.peekSiginfo(tid, true); // the shared pending queue, once per process
                    break;
                }
            }
            long t5 = System.nanoTime();

            for (int i = 0; i < seized.size(); i++) {
                int tid = seized.get(i);
                if (tid > 0) Ptrace.detach(tid, pendingSig[i]);
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
            for (int tid : seized) {
                if (tid <= 0) continue;
                try {
                    Ptrace.detach(tid, 0); // error path only
                } catch (SyscallException ex) {
                    // already gone or not stopped: nothing more to undo
                }
            }
        }
    }

    /**
     * Registers every part of a private writable VMA not yet tracked and adds its present pages to
     * {@code fresh} (they were never seen: copy them whole). Returns the number of parts registered.
     */
    int registerUncovered(List<Vma> maps, List<RemoteRange> fresh) throws IOException {
        int n = 0;
        for (long[] u : Ranges.uncovered(tracked, maps)) {
            long pos = u[0], end = u[1];
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
        Ranges.coalesce(tracked); // adjacent ranges merged: the next scans make fewer calls
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

    private static WaitStatus waitStopped(int tid) throws IOException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (true) {
            WaitStatus st = Syscalls.waitpid(tid, Syscalls.__WALL | Syscalls.WNOHANG);
            if (st.pid() != 0) return st;
            if (System.nanoTime() - deadline > 0) throw new IOException("tid " + tid + ": no ptrace-stop in 5 s");
            Thread.onSpinWait();
        }
    }

    /** Registers, XSAVE area and blocked mask as the engine reads them, then the thread's pending signals. */
    private void captureRegisters(int tid) throws SyscallException {
        ThreadState s = Ptrace.readState(tid);
        xstateBytes = s.xstate().length;
        Ptrace.peekSiginfo(tid, false);
    }

    private static String errName(int e) {
        return e == Errno.ESRCH ? "ESRCH" : e == Errno.EPERM ? "EPERM" : "errno " + e;
    }

    /** How reading the registers of a seized thread of the frozen cgroup went (probed in the first 100 ms epoch). */
    String frozenGetregs() {
        return frozenGetregs;
    }

    private static double ms(long nanos) {
        return nanos / 1e6;
    }

    private static void log(String fmt, Object... args) {
        System.err.println("[bench] " + String.format(Locale.ROOT, fmt, args));
    }
}
