package io.checkpointd.primary.capture.disk;

import io.checkpointd.linux.inotify.DirWatcher;
import io.checkpointd.linux.inotify.DirtyHints;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;

/** Each epoch: drain inotify hints, capture, replay on a replica, and require the replica to equal the source. */
class DataDirTrackerTest {
    @TempDir
    Path tmp;
    Path src, replica;
    DirWatcher watcher;
    DataDirTracker tracker;

    @BeforeEach
    void setUp() throws IOException {
        src = Files.createDirectory(tmp.resolve("src"));
        replica = Files.createDirectory(tmp.resolve("replica"));
    }

    @AfterEach
    void tearDown() {
        if (watcher != null) watcher.close();
    }

    /** Starts tracking what {@code src} holds now: the first epoch, a full copy. */
    private List<DirChange> start() throws IOException {
        watcher = DirWatcher.watch(src);
        tracker = new DataDirTracker(src);
        return epoch();
    }

    private List<DirChange> epoch() throws IOException {
        DirtyHints h = watcher.drain();
        List<DirChange> changes = tracker.capture(h);
        DirApplier.apply(replica, changes);
        Trees.assertSame(src, replica);
        return changes;
    }

    private static void write(Path f, long off, byte[] data) throws IOException {
        try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
            r.seek(off);
            r.write(data);
        }
    }

    private static byte[] random(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    @Test
    void firstEpochIsAFullCopyThenQuiet() throws IOException {
        Files.createDirectories(src.resolve("a/b"));
        Files.write(src.resolve("a/b/f"), random(new Random(1), 10_000));
        Files.createSymbolicLink(src.resolve("a/l"), Path.of("b/f"));
        List<DirChange> first = start();
        assertThat(first).extracting(DirChange::path).contains("a", "a/b", "a/b/f", "a/l");
        assertThat(tracker.bytesRead()).isEqualTo(10_000);
        assertThat(epoch()).isEmpty();
        assertThat(tracker.bytesRead()).isEqualTo(10_000);
    }

    @Test
    void overwriteInPlaceShipsOnlyTheTouchedBlock() throws IOException {
        Path f = src.resolve("f");
        Files.write(f, random(new Random(2), 1 << 20));
        start();
        write(f, 100_000, "hello".getBytes());
        List<DirChange> c = epoch();
        assertThat(c).hasSize(1);
        DirChange.Blocks b = (DirChange.Blocks) c.get(0);
        assertThat(b.offset()).isEqualTo(98_304);
        assertThat(b.data()).hasSize(4096);
    }

    @Test
    void truncateAndExtend() throws IOException {
        Path f = src.resolve("f");
        Files.write(f, random(new Random(3), 100_000));
        start();
        try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
            r.setLength(10_000);
        }
        assertThat(epoch()).contains(new DirChange.Resize("f", 10_000)).noneMatch(c -> c instanceof DirChange.Blocks b
                && b.offset() < 8192);
        write(f, 50_000, "tail".getBytes()); // extend: a hole then 4 bytes
        List<DirChange> c = epoch();
        assertThat(c).contains(new DirChange.Resize("f", 50_004));
        // blocks are hashed zero-padded, so the old partial last block (8192..10000) does not count as changed
        assertThat(c).filteredOn(x -> x instanceof DirChange.Blocks).extracting(x -> ((DirChange.Blocks) x).offset())
                .containsExactly(49_152L);
    }

    @Test
    void renamesAreByInodeAndShipNoData() throws IOException {
        Files.createDirectories(src.resolve("d/e"));
        Files.write(src.resolve("d/e/f"), random(new Random(4), 20_000));
        Files.write(src.resolve("g"), random(new Random(5), 5000));
        start();
        Files.move(src.resolve("g"), src.resolve("d/g2"));
        assertThat(epoch()).containsExactly(new DirChange.Rename("g", "d/g2"));
        Files.move(src.resolve("d"), src.resolve("D"));
        assertThat(epoch()).containsExactly(new DirChange.Rename("d", "D"));
        Files.write(src.resolve("D/e/f"), "x".getBytes(), java.nio.file.StandardOpenOption.APPEND); // watch followed the move
        assertThat(epoch()).hasSize(2);
        // a swap needs one name put aside
        Files.move(src.resolve("D/g2"), src.resolve("tmp"));
        Files.move(src.resolve("D/e/f"), src.resolve("D/g2"));
        Files.move(src.resolve("tmp"), src.resolve("D/e/f"));
        assertThat(epoch()).noneMatch(c -> c instanceof DirChange.Blocks);
    }

    @Test
    void aDirectoryReplacedByItsOwnSubdirectory() throws IOException {
        // A random run of the crash test found this: "a" gone, and "a/b" moved to "a" in the same epoch.
        Files.createDirectories(src.resolve("a/b"));
        Files.write(src.resolve("a/b/f"), random(new Random(6), 3000));
        Files.write(src.resolve("a/g"), random(new Random(7), 2000));
        start();
        Files.move(src.resolve("a/b"), src.resolve("c"));
        Files.delete(src.resolve("a/g"));
        Files.delete(src.resolve("a"));
        Files.move(src.resolve("c"), src.resolve("a"));
        assertThat(epoch()).noneMatch(c -> c instanceof DirChange.Blocks);
    }

    @Test
    void aDirectoryReplacedByASymlinkIsNotFollowed() throws IOException {
        // Also found by a random run: hints inside "d" were resolved through the looping link that replaced it.
        Files.createDirectories(src.resolve("d/e"));
        Files.write(src.resolve("d/e/f"), random(new Random(8), 3000));
        Files.createDirectories(src.resolve("t"));
        Files.write(src.resolve("t/g"), random(new Random(9), 3000));
        start();
        Files.write(src.resolve("d/e/f"), "x".getBytes(), java.nio.file.StandardOpenOption.APPEND);
        Files.write(src.resolve("d/h"), random(new Random(10), 100));
        Files.delete(src.resolve("d/e/f"));
        Files.delete(src.resolve("d/e"));
        Files.delete(src.resolve("d/h"));
        Files.delete(src.resolve("d"));
        Files.createSymbolicLink(src.resolve("d"), Path.of("d/x")); // resolves through itself: ELOOP
        Files.createSymbolicLink(src.resolve("e"), Path.of("t")); // a link to a real directory is not listed either
        epoch();
    }

    @Test
    void deleteAndCreateThenDeleteWithinOneEpoch() throws IOException {
        Files.write(src.resolve("f"), new byte[100]);
        Files.createDirectories(src.resolve("d/sub"));
        Files.write(src.resolve("d/sub/x"), new byte[100]);
        start();
        Files.delete(src.resolve("f"));
        assertThat(epoch()).containsExactly(new DirChange.Delete("f"));
        Files.write(src.resolve("brief"), new byte[1 << 16]);
        Files.createDirectories(src.resolve("d/gone/deep"));
        Files.delete(src.resolve("brief"));
        Files.delete(src.resolve("d/gone/deep"));
        Files.delete(src.resolve("d/gone"));
        long read = tracker.bytesRead();
        assertThat(epoch()).isEmpty();
        assertThat(tracker.bytesRead()).isEqualTo(read);
        Files.delete(src.resolve("d/sub/x"));
        Files.delete(src.resolve("d/sub"));
        Files.delete(src.resolve("d"));
        assertThat(epoch()).containsExactly(new DirChange.Delete("d/sub/x"), new DirChange.Delete("d/sub"),
                new DirChange.Delete("d"));
    }

    @Test
    void directoriesSymlinksAndModes() throws IOException {
        Files.write(src.resolve("f"), new byte[10]);
        start();
        Files.createDirectories(src.resolve("d"));
        Files.setAttribute(src.resolve("d"), "unix:mode", 0750);
        Files.createSymbolicLink(src.resolve("d/l"), Path.of("../f"));
        Files.setAttribute(src.resolve("f"), "unix:mode", 04711);
        assertThat(epoch()).containsExactlyInAnyOrder(new DirChange.MakeDir("d", 0750),
                new DirChange.Symlink("d/l", "../f"), new DirChange.Mode("f", 04711));
        Files.delete(src.resolve("d/l"));
        Files.createSymbolicLink(src.resolve("d/l"), Path.of("/nowhere"));
        epoch();
        Files.delete(src.resolve("d/l"));
        Files.createDirectory(src.resolve("d/l")); // a link replaced by a directory
        epoch();
        Files.delete(src.resolve("f"));
        Files.createDirectories(src.resolve("f/x")); // a file replaced by a directory
        epoch();
    }

    @Test
    void sparseMultiGigabyteFileShipsAndReadsOnlyWhatChanged() throws IOException {
        long size = 3L << 30;
        Path f = src.resolve("big");
        Random r = new Random(6);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(size);
        }
        Set<Long> touched = new TreeSet<>();
        for (int i = 0; i < 64; i++) {
            long off = (r.nextLong() & Long.MAX_VALUE) % (size - 16);
            write(f, off, random(r, 16));
            touched.add(off / 4096);
            touched.add((off + 15) / 4096);
        }
        start();
        assertThat(tracker.bytesRead()).as("the first copy reads data, not holes").isEqualTo(touched.size() * 4096L);
        for (int e = 0; e < 5; e++) {
            Set<Long> now = new TreeSet<>();
            for (int i = 0; i < 32; i++) {
                long off = (r.nextLong() & Long.MAX_VALUE) % (size / 4096) * 4096 + 100; // inside one block
                write(f, off, random(r, 16));
                now.add(off / 4096);
                touched.add(off / 4096);
            }
            long before = tracker.bytesRead();
            List<DirChange> c = epoch();
            assertThat(c).allMatch(x -> x instanceof DirChange.Blocks b && b.data().length == 4096);
            assertThat(c).extracting(x -> ((DirChange.Blocks) x).offset() / 4096).containsExactlyElementsOf(now);
            // the tracker reads the file's data, which grows with the blocks ever written, never its 3 GiB
            assertThat(tracker.bytesRead() - before).isEqualTo(touched.size() * 4096L);
        }
    }

    @Test
    void queueOverflowFallsBackToAWalkThatReadsOnlyChangedFiles() throws IOException {
        for (int i = 0; i < 100; i++) Files.write(src.resolve("f" + i), new byte[8192]);
        start();
        long before = tracker.bytesRead();
        int max = Integer.parseInt(Files.readAllLines(Path.of("/proc/sys/fs/inotify/max_queued_events")).get(0).trim());
        try (RandomAccessFile a = new RandomAccessFile(src.resolve("f1").toFile(), "rw");
             RandomAccessFile b = new RandomAccessFile(src.resolve("f2").toFile(), "rw")) {
            for (int i = 0; i <= max; i++) {
                a.seek(0);
                a.write(1 + i % 200); // never 0: the files start as zeros
                b.seek(4096);
                b.write(1 + i % 200);
            }
        }
        Files.createDirectories(src.resolve("late"));
        Files.write(src.resolve("late/x"), new byte[10]);
        Files.delete(src.resolve("f3"));
        DirtyHints h = watcher.drain();
        assertThat(h.all()).isTrue();
        List<DirChange> c = tracker.capture(h);
        DirApplier.apply(replica, c);
        Trees.assertSame(src, replica);
        assertThat(c).filteredOn(x -> x instanceof DirChange.Blocks).extracting(DirChange::path)
                .containsExactlyInAnyOrder("f1", "f2", "late/x");
        assertThat(tracker.bytesRead() - before).isEqualTo(2 * 8192 + 10);
    }

    @Test
    void randomOperationsRoundTrip() throws IOException {
        for (long seed = 1; seed <= 3; seed++) {
            new RandomOps(new Random(seed), src).populate();
            start();
            RandomOps ops = new RandomOps(new Random(seed * 31), src);
            for (int e = 0; e < 40; e++) {
                int n = 1 + ops.random.nextInt(6);
                for (int i = 0; i < n; i++) ops.step();
                epoch();
            }
            watcher.close();
            watcher = null;
            clear(src);
            clear(replica);
        }
    }

    private static void clear(Path dir) throws IOException {
        List<Path> all = new ArrayList<>();
        try (var s = Files.walk(dir)) {
            s.filter(p -> !p.equals(dir)).forEach(all::add);
        }
        for (int i = all.size() - 1; i >= 0; i--) Files.delete(all.get(i));
    }
}
