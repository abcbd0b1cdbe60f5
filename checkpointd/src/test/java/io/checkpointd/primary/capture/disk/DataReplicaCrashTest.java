package io.checkpointd.primary.capture.disk;

import org.junit.jupiter.api.AfterEach;
import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.linux.inotify.DirtyHints;
import io.checkpointd.protocol.replication.EpochBegin;
import io.checkpointd.protocol.replication.EpochEnd;
import io.checkpointd.protocol.replication.EpochRecord;
import io.checkpointd.restore.store.DataRoots;
import io.checkpointd.restore.store.ImageStore;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A backup killed at any instant: a child JVM commits data-dir epochs into a store as fast as it can (so log
 * appends, renames, STATE switches and background folds into new bases are all in progress somewhere), and is
 * SIGKILLed at a random moment; the store, reopened, materializes exactly the directory of the epoch STATE names.
 */
class DataReplicaCrashTest {
    /** These tests are about replication, not where data dirs may go (DataRootsTest): every root is allowed. */
    private static final DataRoots ANY_ROOT = DataRoots.of(List.of(Path.of("/")));

    @TempDir
    Path tmp;

    /** Every store a test opened, closed after it: a store's standby image is written behind its commits. */
    private final List<ImageStore> stores = new ArrayList<>();

    private ImageStore open(Path dir, DataRoots roots) throws IOException {
        ImageStore s = ImageStore.open(dir, roots);
        stores.add(s);
        return s;
    }

    @AfterEach
    void closeStores() throws InterruptedException {
        for (ImageStore s : stores) s.close();
    }

    @Test
    void aStoreKilledAtARandomMomentMaterializesItsCommittedEpoch() throws Exception {
        Random rnd = new Random();
        int folded = 0;
        for (int run = 0; run < 3; run++) {
            Path dir = Files.createDirectories(tmp.resolve("run-" + run));
            Path store = dir.resolve("store"), snaps = dir.resolve("snaps");
            Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx128m",
                    "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"), Writer.class.getName(), dir.toString(),
                    Long.toString(rnd.nextLong())).redirectInput(new File("/dev/null")).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("child.log").toFile()).start();
            try {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (!Files.exists(snaps.resolve("40"))) { // past a fold or so
                    assertThat(child.isAlive()).as(Files.readString(dir.resolve("child.log"))).isTrue();
                    assertThat(System.nanoTime() - deadline).as("child progress").isNegative();
                    Thread.sleep(20);
                }
                Thread.sleep(rnd.nextInt(1500));
            } finally {
                child.destroyForcibly(); // SIGKILL
                child.waitFor();
            }
            ImageStore s = open(store, ANY_ROOT);
            long n = s.committedEpoch();
            assertThat(n).isPositive();
            Path out = dir.resolve("materialized");
            s.materializeDataDirs(p -> out);
            Trees.assertSame(snaps.resolve(Long.toString(n)), out);
            s.close();
            try (var l = Files.list(store)) {
                if (l.anyMatch(p -> p.getFileName().toString().startsWith("base-"))) folded++;
            }
            System.out.println("run " + run + ": killed at committed epoch " + n);
        }
        assertThat(folded).as("some runs were killed after the log had been folded into a base with the data dir").isPositive();
    }

    /** The child: random changes, a snapshot of the directory, then the commit of the epoch, forever. */
    public static final class Writer {
        public static void main(String[] args) throws Exception {
            Path dir = Path.of(args[0]);
            Path src = Files.createDirectories(dir.resolve("src")), snaps = Files.createDirectories(dir.resolve("snaps"));
            Random rnd = new Random(Long.parseLong(args[1]));
            RandomOps ops = new RandomOps(rnd, src);
            ops.populate();
            ImageStore store = ImageStore.open(dir.resolve("store"), ANY_ROOT);
            DataDirTracker tracker = new DataDirTracker(src);
            for (long n = 1; ; n++) {
                for (int k = rnd.nextInt(3); k >= 0; k--) ops.step();
                List<EpochRecord> recs = new ArrayList<>();
                if (n == 1) recs.add(new EpochRecord.DirRoot(0, "/srv/data"));
                for (DirChange c : tracker.capture(DirtyHints.everything())) recs.add(DataDirs.toRecord(0, c));
                copy(src, snaps.resolve(Long.toString(n))); // before the commit: a committed epoch always has its snapshot
                ImageStore.EpochWriter w = store.begin(1, n, new EpochBegin(n == 1 ? EpochBegin.FULL : n - 1, 0, 0));
                MessageDigest md = MessageDigest.getInstance("SHA-256");
                for (EpochRecord r : recs) {
                    byte[] p = r.encode();
                    w.add(p);
                    md.update(p);
                }
                w.commit(new EpochEnd(recs.size(), md.digest(), Map.of()));
            }
        }

        private static void copy(Path from, Path to) throws IOException, InterruptedException {
            Process p = new ProcessBuilder("cp", "-a", "--sparse=always", from.toString(), to.toString()).inheritIO().start();
            if (p.waitFor() != 0) throw new IOException("cp failed");
        }
    }
}
