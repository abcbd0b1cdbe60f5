package io.checkpointd.primary.engine.dump;

import io.checkpointd.linux.ProcessMemory;
import io.checkpointd.linux.criu.Criu;
import io.checkpointd.linux.freezer.Freezer;
import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.proc.Vma;
import io.checkpointd.linux.ptrace.Tracer;
import io.checkpointd.linux.track.DirtyTracker;
import io.checkpointd.linux.track.Ranges;
import io.checkpointd.protocol.replication.DeltaComputer;
import io.checkpointd.primary.engine.CaptureEngine;
import io.checkpointd.primary.engine.Dumps;
import io.checkpointd.primary.engine.memory.MemoryStage;
import io.checkpointd.primary.engine.patch.ImagePatch;
import io.checkpointd.primary.engine.pause.PauseStage;
import io.checkpointd.primary.engine.state.Base;
import io.checkpointd.primary.engine.state.Reference;
import io.checkpointd.primary.engine.state.Structure;
import io.checkpointd.primary.engine.status.EngineStats;
import io.checkpointd.protocol.image.ImageDirs;
import io.checkpointd.protocol.image.Pagemap;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The base dump: a CRIU dump of the process, the new {@link Base} every incremental epoch patches. The process is
 * frozen and untraced for CRIU; tracking is (re-)armed just before the dump; afterwards the tracer seizes the threads
 * again while the cgroup is still frozen, then the process runs again.
 */
public final class BaseDump {
    private static final Logger log = LoggerFactory.getLogger(BaseDump.class);

    private final Criu criu;
    private final int pid;
    private final Path work;
    private final Tracer tracer;
    private final DirtyTracker tracker;
    private final MemoryStage memory;
    private final ImagePatch patch;
    private final EngineStats stats;
    private boolean armed;

    /** What a dump gave: the new base, and the dump's directory and pagemaps to ship from. */
    public record Result(Base base, Path dir, long resumed, List<String> pagemaps, long runningNanos) {
    }

    public BaseDump(Criu criu, int pid, Path work, Tracer tracer, DirtyTracker tracker, MemoryStage memory, ImagePatch patch,
                    EngineStats stats) {
        this.criu = criu;
        this.pid = pid;
        this.work = work;
        this.tracer = tracer;
        this.tracker = tracker;
        this.memory = memory;
        this.patch = patch;
        this.stats = stats;
    }

    /**
     * Dumps epoch {@code n} (first stopping the threads if the tracer holds them, unless {@code frozen}: the pause did
     * that already) for {@code why}; {@code previous}: the base it replaces, or null.
     */
    public Result run(long n, CaptureEngine.Pause pause, String why, boolean frozen, Base previous, Reference ref)
            throws IOException, InterruptedException {
        Freezer freezer = pause.freezer();
        Path dir = work.resolve("base-" + n);
        ImageDirs.deleteTree(dir);
        Files.createDirectories(dir);
        List<Vma> atDump;
        Structure s;
        ref.resync(true);
        // the first dump copies the memory while the process runs (the tracker armed first), then freezes for the rest
        FirstPreCopy pre = !armed && !frozen && !tracer.attached() && FirstPreCopy.usable(criu, tracker, pid)
                ? FirstPreCopy.run(pid, tracker, pause, work, n) : null; // null too if it failed: a whole dump then
        if (pre != null) armed = true;
        try {
            if (pre != null) pre.freezing();
            if (!frozen) {
                if (tracer.attached()) {
                    tracer.call(() -> {
                        Tracer.Stop sp = tracer.stopAll(PauseStage.STOP_TIMEOUT);
                        try {
                            pause.freeze();
                        } catch (IOException | RuntimeException e) {
                            sp.close();
                            throw e;
                        }
                        sp.detach();
                        return null;
                    });
                } else {
                    pause.freeze();
                }
            }
            pause.seal();
            // re-armed before the dump, not after: CRIU's parasite runs on the threads' stacks and leaves bytes below
            // their stack pointers; pages it writes after reading them must count as written in the next epoch
            List<Vma> before = ProcFs.maps(pid);
            Path skip = null;
            if (!armed) {
                tracker.arm(before);
                armed = true;
            } else {
                List<ProcessMemory.RemoteRange> written = tracker.collect(before); // everything written so far is in the dump
                if (pre != null) skip = pre.skipFile(Ranges.of(written), before, n);
            }
            memory.reset(); // so is what earlier pre-copies re-protected and what attempts given up collected
            Dumps.dump(criu, pid, dir, freezer, skip);
            if (pre != null) pre.dumped();
            pause.atCapture();
            atDump = ProcFs.maps(pid);
            s = Structure.read(pid, ProcFs.threads(pid), atDump);
        } catch (IOException | RuntimeException e) {
            ImageDirs.deleteTree(dir);
            if (pre != null) pre.close(n);
            throw e;
        } finally {
            traceAgain(freezer);
            freezer.thaw();
        }
        long resumed = System.nanoTime();
        if (pre != null) {
            try {
                pre.merge(dir);
                pre.report(stats);
            } catch (IOException | RuntimeException e) {
                ImageDirs.deleteTree(dir);
                throw e;
            } finally {
                pre.close(n);
            }
        }
        Map<String, byte[]> files = new TreeMap<>();
        List<String> pagemaps = new ArrayList<>();
        try (Stream<Path> list = Files.list(dir)) {
            for (Path p : (Iterable<Path>) list::iterator) {
                String name = p.getFileName().toString();
                if (!DeltaComputer.isImageFile(name) || Pagemap.isPagesName(name)) continue;
                files.put(name, Files.readAllBytes(p));
                if (Pagemap.isPagemapName(name)) pagemaps.add(name);
            }
        }
        String own = "pagemap-" + pid + ".img";
        String mmName = "mm-" + pid + ".img";
        Base base;
        if (pagemaps.size() == 1 && files.containsKey("core-" + pid + ".img") && files.containsKey(mmName) && Pagemap.isPagemapName(pagemaps.get(0))
                && !pagemaps.get(0).startsWith("pagemap-shmem")) {
            String pagemapName = pagemaps.get(0);
            Pagemap pm = Pagemap.parse(files.get(pagemapName));
            base = new Base(files, pagemapName, pm.pagesId(), mmName, null, s, atDump);
            // a tracker that compares contents (scan) compares the next stop with the dump's bytes (read if it asks)
            Path pagesFile = dir.resolve(pm.pagesFileName());
            tracker.dumped(sink -> {
                if (pm.presentPages() == 0) return;
                try (DeltaComputer.PagesFile data = DeltaComputer.PagesFile.map(pagesFile)) {
                    pm.forEachPresentPage((va, idx) -> sink.page(va, data.page(idx)));
                }
            });
        } else {
            if (previous == null || previous.notIncremental() == null) {
                log.warn("pid {}: every epoch takes a CRIU dump: the image has {} (a process tree or shared memory), the incremental engine handles one process ({} expected)",
                        pid, pagemaps, own);
            }
            base = new Base(files, null, 0, mmName, "process tree or shared memory", s, atDump);
        }
        patch.rebase(base);
        ref.resync(false);
        stats.baseDump(Structure.kind(why));
        log.info("epoch {}: CRIU dump ({})", n, why);
        return new Result(base, dir, resumed, pagemaps, pre == null ? 0 : pre.runningNanos());
    }

    /** Seizes the threads again after a CRIU dump, while the cgroup is still frozen; a failure makes the next epoch a dump too. */
    private void traceAgain(Freezer freezer) {
        try {
            if (!freezer.isFrozen()) return; // the freeze failed before anything was detached
            tracer.call(() -> {
                tracer.attach();
                tracer.markBase(); // the threads of this dump: any seen later is born, and the engine builds its core
                return null;
            });
        } catch (IOException | RuntimeException e) {
            log.warn("pid {}: cannot trace the threads again ({}): the next epoch takes a CRIU dump", pid, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
