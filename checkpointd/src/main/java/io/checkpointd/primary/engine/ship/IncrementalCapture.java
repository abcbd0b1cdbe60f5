package io.checkpointd.primary.engine.ship;

import io.checkpointd.linux.track.PageHashes;
import io.checkpointd.linux.track.Ranges;
import io.checkpointd.primary.engine.CaptureEngine;
import io.checkpointd.primary.engine.pause.PauseStage;
import io.checkpointd.primary.engine.patch.ImagePatch;
import io.checkpointd.primary.engine.patch.TimensPatch;
import io.checkpointd.primary.engine.state.Base;
import io.checkpointd.primary.engine.state.Reference;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Map;

/**
 * An epoch the engine took itself: the base's files patched ({@link ImagePatch}), the copied pages whose bytes really
 * changed (XORed against their last shipped content where that is smaller). Shipping it makes its present pages the
 * {@link Reference}'s.
 */
public final class IncrementalCapture implements CaptureEngine.Capture {
    private static final int PAGE = Shipper.PAGE;

    private final Shipper shipper;
    private final ImagePatch patch;
    private final Base base;
    private final PauseStage.Stopped s;

    /** The pause {@code s} against {@code base}, to be patched by {@code patch} and shipped by {@code shipper}. */
    public IncrementalCapture(Shipper shipper, ImagePatch patch, Base base, PauseStage.Stopped s) {
        this.shipper = shipper;
        this.patch = patch;
        this.base = base;
        this.s = s;
    }

    @Override
    public boolean full() {
        return false;
    }

    @Override
    public long resumedAtNanos() {
        return s.resumed();
    }

    @Override
    public long pausedNanos(long startNanos) {
        // only the time held: the hand-over to the tracer thread and the pre-copy ran with the process running
        return s.held();
    }

    @Override
    public long capturedBytes() {
        return s.pages().remaining();
    }

    @Override
    public CaptureEngine.Delta ship(CaptureEngine.RecordSink sink) throws IOException {
        Reference ref = shipper.ref;
        XorPages xor = shipper.xor;
        String pagemapName = base.pagemapName();
        long[] nowPresent = s.memory().nowPresent();
        long[] copied = s.memory().copy();
        ByteBuffer data = s.pages();
        try {
            long t0 = System.nanoTime();
            Map<String, byte[]> files = patch.files(base, s.threads(), s.open(), s.fds(), nowPresent, s.mm(), s.vmas());
            TimensPatch.patch(files, s.resumed()); // the clocks of this epoch's instant, not the base dump's
            long t1 = System.nanoTime();
            long[] fileBytes = {0};
            int records = shipper.shipFiles(files, false, sink, fileBytes);
            Map<String, Long> manifest = Shipper.manifest(files);
            manifest.put("pages-" + base.pagesId() + ".img", Ranges.pages(nowPresent) * PAGE);

            long t2 = System.nanoTime();
            PageHashes h = ref.hashes().computeIfAbsent(pagemapName, k -> new PageHashes(1024));
            if (xor != null) xor.start(pagemapName, sink);
            long[] gone = Ranges.subtract(ref.present(), nowPresent);
            for (int i = 0; i < gone.length; i += 2) {
                for (long v = gone[i]; v < gone[i + 1]; v += PAGE) {
                    h.remove(v);
                    if (xor != null) xor.gone(v);
                }
            }
            Batch batch = shipper.batch(pagemapName, sink);
            int pos = 0;
            for (int i = 0; i < copied.length; i += 2) {
                for (long v = copied[i]; v < copied[i + 1]; v += PAGE, pos += PAGE) {
                    ByteBuffer page = data.slice(pos, PAGE);
                    if (!h.changed(v, Shipper.hash(page))) continue;
                    if (xor == null || !xor.offer(v, page)) batch.add(v, page);
                }
            }
            int xorRecords = xor == null ? 0 : xor.finish();
            batch.flush();
            ref.present(nowPresent, s.vmas()); // the stop's maps (the dump's when equal to them)
            long xorred = xor == null ? 0 : xor.pages();
            shipper.stats.shipped(xorred, batch.pages);
            shipper.stats.recordPhases(t1 - t0, t2 - t1, System.nanoTime() - t2);
            return new CaptureEngine.Delta(manifest, records + batch.records + xorRecords, batch.pages + xorred, fileBytes[0]);
        } catch (IOException | RuntimeException e) {
            shipper.failed();
            throw e;
        }
    }

    @Override
    public void discard() {
        shipper.ref.resync(true); // the tracker's written set of this epoch is gone
        shipper.invalidate();
    }
}
