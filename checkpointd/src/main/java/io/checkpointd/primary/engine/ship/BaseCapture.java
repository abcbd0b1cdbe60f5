package io.checkpointd.primary.engine.ship;

import io.checkpointd.linux.ProcessMemory;
import io.checkpointd.linux.track.PageHashes;
import io.checkpointd.linux.track.Ranges;
import io.checkpointd.protocol.replication.DeltaComputer;
import io.checkpointd.primary.engine.CaptureEngine;
import io.checkpointd.primary.engine.FullDumpEngine;
import io.checkpointd.primary.engine.state.Base;
import io.checkpointd.protocol.image.ImageDirs;
import io.checkpointd.protocol.image.Pagemap;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** An epoch taken by CRIU: its files whole, its pages compared by hash with what the backup holds. */
public final class BaseCapture implements CaptureEngine.Capture {
    private static final Logger log = LoggerFactory.getLogger(BaseCapture.class);
    private static final int PAGE = Shipper.PAGE;

    private final Shipper shipper;
    private final Base base;
    private final Path dir;
    private final boolean full;
    private final long resumed;
    private final List<String> pagemaps;
    private final long runningNanos;

    /**
     * The dump in {@code dir} that gave {@code base}, with its pagemaps' names; deleted once shipped or discarded.
     * {@code runningNanos}: how long the process ran during the capture (a pre-copy), not counted as pause.
     */
    public BaseCapture(Shipper shipper, Base base, Path dir, boolean full, long resumed, List<String> pagemaps, long runningNanos) {
        this.shipper = shipper;
        this.base = base;
        this.dir = dir;
        this.full = full;
        this.resumed = resumed;
        this.pagemaps = pagemaps;
        this.runningNanos = runningNanos;
    }

    @Override
    public boolean full() {
        return full;
    }

    @Override
    public long resumedAtNanos() {
        return resumed;
    }

    @Override
    public long pausedNanos(long startNanos) {
        return resumed - startNanos - runningNanos;
    }

    @Override
    public long capturedBytes() {
        return FullDumpEngine.dirBytes(dir);
    }

    @Override
    public CaptureEngine.Delta ship(CaptureEngine.RecordSink sink) throws IOException {
        Map<String, byte[]> files = base.files();
        String pagemapName = base.pagemapName();
        try {
            if (full) shipper.ref.clear();
            // ships plain; the pages it ships (of the pagemap incremental epochs patch) seed the XOR cache afresh
            shipper.dropShippedPages();
            XorPages seed = base.notIncremental() == null ? shipper.xor : null;
            long[] fileBytes = {0};
            int records = shipper.shipFiles(files, full, sink, fileBytes);
            Map<String, Long> manifest = Shipper.manifest(files);
            long changed = 0;
            for (String name : pagemaps) {
                Pagemap pm = Pagemap.parse(files.get(name));
                manifest.put(pm.pagesFileName(), pm.presentPages() * PAGE);
                PageHashes old = full ? null : shipper.ref.hashes().get(name);
                PageHashes fresh = new PageHashes((int) Math.min(1 << 24, pm.presentPages()));
                Batch batch = shipper.batch(name, sink);
                Path pagesFile = dir.resolve(pm.pagesFileName());
                if (pm.presentPages() > 0) {
                    try (DeltaComputer.PagesFile data = DeltaComputer.PagesFile.map(pagesFile)) {
                        pm.forEachPresentPage((vaddr, idx) -> {
                            ByteBuffer page = data.page(idx);
                            long h = Shipper.hash(page);
                            fresh.changed(vaddr, h);
                            if (old == null || old.changed(vaddr, h)) {
                                batch.add(vaddr, page);
                                if (seed != null && name.equals(pagemapName)) seed.seed(vaddr, page); // copies it
                            }
                        });
                    }
                }
                batch.flush();
                records += batch.records;
                changed += batch.pages;
                shipper.ref.hashes().put(name, fresh);
                if (name.equals(pagemapName)) {
                    List<ProcessMemory.RemoteRange> rs = new ArrayList<>();
                    for (Pagemap.Run r : pm.runs()) if (r.present()) rs.add(new ProcessMemory.RemoteRange(r.vaddr(), r.nrPages() * PAGE));
                    shipper.ref.present(Ranges.of(rs), base.dumpMaps());
                }
            }
            return new CaptureEngine.Delta(manifest, records, changed, fileBytes[0]);
        } catch (IOException | RuntimeException e) {
            shipper.failed();
            throw e;
        } finally {
            discard();
        }
    }

    @Override
    public void discard() {
        try {
            ImageDirs.deleteTree(dir);
        } catch (IOException e) {
            log.warn("removing {}: {}", dir, e.getMessage());
        }
    }
}
