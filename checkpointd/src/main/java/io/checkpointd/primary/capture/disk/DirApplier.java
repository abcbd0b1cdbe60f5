package io.checkpointd.primary.capture.disk;

import io.checkpointd.protocol.replication.EpochRecord;
import io.checkpointd.restore.store.DirReplay;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Replays {@link DirChange}s on a directory that holds the previous epoch's state, through the backup's
 * {@link DirReplay} (as the records they become): the tests' proof that what the tracker reports is enough.
 * Paths are checked to stay inside the directory.
 */
public final class DirApplier {
    private DirApplier() {
    }

    public static void apply(Path root, Iterable<? extends DirChange> changes) throws IOException {
        for (DirChange c : changes) apply(root, c);
    }

    public static void apply(Path root, DirChange c) throws IOException {
        inside(root, c.path());
        if (c instanceof DirChange.Rename r) inside(root, r.from());
        // one implementation of replay: the backup's, on the record the change becomes on the wire
        DirReplay.apply(root, (EpochRecord.DirRecord) DataDirs.toRecord(0, c));
    }

    private static Path inside(Path root, String rel) throws IOException {
        if (rel.isEmpty() || rel.startsWith("/")) throw new IOException("bad data-dir path: '" + rel + "'");
        for (String part : rel.split("/", -1)) {
            if (part.isEmpty() || part.equals(".") || part.equals("..")) throw new IOException("bad data-dir path: '" + rel + "'");
        }
        return root.resolve(rel);
    }
}
