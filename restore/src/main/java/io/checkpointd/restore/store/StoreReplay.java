package io.checkpointd.restore.store;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Rebuilds the store's in-memory image plan and data replica from what STATE names: its base and logged epochs. */
final class StoreReplay {
    /** The replayed image, data dirs and the log's size. */
    record Replayed(ImagePlan plan, DataReplica data, long logBytes) {
    }

    private StoreReplay() {
    }

    /** At open: the plan and the replica from the base and every logged epoch. */
    static Replayed all(Path dir, StoreState state) throws IOException {
        if (!state.base().isEmpty() && !Files.isDirectory(dir.resolve(state.base()))) {
            throw new IOException("store " + dir + " is damaged: " + state.base() + " named in STATE is missing");
        }
        ImagePlan plan = ImagePlan.ofBase(state.base().isEmpty() ? null : dir.resolve(state.base()));
        DataReplica data = DataReplica.ofBase(state.base().isEmpty() ? null : dir.resolve(state.base()));
        long logBytes = 0;
        boolean first = true;
        for (long e : state.log()) {
            Path f = logFile(dir, e);
            if (!Files.exists(f)) throw new IOException("store " + dir + " is damaged: " + f + " named in STATE is missing");
            DeltaIndex index = new DeltaIndex(f, e);
            DataReplica.Epoch dataEpoch = data.begin(first && state.base().isEmpty());
            StoreLog.read(f, (r, pos, n) -> {
                index.add(r, pos);
                dataEpoch.add(r, f, pos, n);
            });
            plan = index.applyTo(plan, first && state.base().isEmpty());
            data = dataEpoch.result(data);
            logBytes += Files.size(f);
            first = false;
        }
        return new Replayed(plan, data, logBytes);
    }

    /**
     * The data dirs' replica from the base and the logged epochs' DIR records (after a compaction moved the base:
     * the old base's files are gone). Reads the logged epochs again; only when the service has data dirs.
     */
    static DataReplica data(Path dir, StoreState state) throws IOException {
        DataReplica d = DataReplica.ofBase(state.base().isEmpty() ? null : dir.resolve(state.base()));
        boolean first = true;
        for (long e : state.log()) {
            Path f = logFile(dir, e);
            DataReplica.Epoch dataEpoch = d.begin(first && state.base().isEmpty());
            StoreLog.read(f, (r, pos, n) -> dataEpoch.add(r, f, pos, n));
            d = dataEpoch.result(d);
            first = false;
        }
        return d;
    }

    private static Path logFile(Path dir, long epoch) {
        return dir.resolve("log").resolve("epoch-" + epoch + ".d");
    }
}
