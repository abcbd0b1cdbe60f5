package io.checkpointd.restore.store;

import io.checkpointd.protocol.ProtocolException;
import io.checkpointd.protocol.replication.EpochRecord;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Benchmark access to the store's per-epoch plan work (index the records, verify and apply them, compute the
 * manifest), without the log I/O, digest and fsyncs, whose cost is proportional to the delta anyway. Lives in the
 * bench module, in the store's package, so the store's classes stay package-private.
 */
public final class PlanProbe {
    private ImagePlan plan;

    /** Starts from the plan of a materialized base image in {@code baseDir}. */
    public PlanProbe(Path baseDir) throws IOException {
        plan = ImagePlan.ofBase(baseDir);
    }

    /**
     * Applies one delta epoch as {@code ImageStore} would when committing it, records laid out as in the log file
     * {@code logFile}, and returns the new image's manifest.
     *
     * @throws EpochRejectedException if the epoch would be rejected
     */
    public Map<String, Long> commit(Path logFile, long epoch, List<EpochRecord> records) throws IOException {
        DeltaIndex index = new DeltaIndex(logFile, epoch);
        long pos = 0;
        for (EpochRecord r : records) {
            index.add(r, pos + 4);
            pos += 4 + encodedLength(r);
        }
        ImagePlan next = index.applyTo(plan, false);
        Map<String, Long> manifest = next.manifest();
        plan = next;
        return manifest;
    }

    /** The committed plan, as the compactor would snapshot it (opaque: only kept alive). */
    public Object snapshot() {
        return plan;
    }

    /**
     * Times what the end of a compaction costs with {@code snapshot} (an earlier {@link #snapshot()}) folded into
     * a base at {@code newBase}: relocating the snapshot's plan there (outside the store lock) and re-basing the
     * committed plan onto it (under the lock). Null where the store has no such step (before it, the compactor
     * rebuilt the plan from the new base and re-read the remaining log under the lock). Reflective, so this
     * benchmark still compiles against that older store.
     */
    public long[] timeRebase(Object snapshot, Path newBase) throws Exception {
        java.lang.reflect.Method relocate, rebase;
        try {
            relocate = ImagePlan.class.getDeclaredMethod("relocatedTo", Path.class);
            rebase = ImagePlan.class.getDeclaredMethod("rebase", ImagePlan.class, ImagePlan.class);
        } catch (NoSuchMethodException e) {
            return null;
        }
        long t0 = System.nanoTime();
        Object relocated = relocate.invoke(snapshot, newBase);
        long t1 = System.nanoTime();
        Object rebased = rebase.invoke(plan, snapshot, relocated);
        long t2 = System.nanoTime();
        java.lang.ref.Reference.reachabilityFence(rebased);
        return new long[] {t1 - t0, t2 - t1};
    }

    private static long encodedLength(EpochRecord r) throws ProtocolException {
        if (r instanceof EpochRecord.PageDelta p) {
            return 1 + 2 + p.pagemapName().length() + 4 + 8L * p.vaddrs().length + p.pages().length;
        }
        if (r instanceof EpochRecord.FileChunk c) return 1 + 2 + c.name().length() + 8 + 8 + 4 + c.data().length;
        return r.encode().length;
    }
}
