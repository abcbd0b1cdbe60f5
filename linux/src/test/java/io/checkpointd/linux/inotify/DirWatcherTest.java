package io.checkpointd.linux.inotify;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.assertj.core.api.Assertions.assertThat;

class DirWatcherTest {
    @TempDir
    Path root;

    @Test
    void firstDrainIsEverythingThenQuiet() throws Exception {
        Files.createDirectories(root.resolve("a/b"));
        try (DirWatcher w = DirWatcher.watch(root)) {
            assertThat(w.watchCount()).isEqualTo(3);
            assertThat(w.drain().all()).isTrue();
            assertThat(w.drain().isEmpty()).isTrue();
        }
    }

    @Test
    void writeCreateDeleteAndModeAreHinted() throws Exception {
        Files.createDirectories(root.resolve("d"));
        Files.write(root.resolve("d/f"), new byte[10]);
        Files.write(root.resolve("g"), new byte[10]);
        try (DirWatcher w = DirWatcher.watch(root)) {
            w.drain();
            try (RandomAccessFile f = new RandomAccessFile(root.resolve("d/f").toFile(), "rw")) {
                f.write(1);
            }
            Files.delete(root.resolve("g"));
            Files.write(root.resolve("n"), new byte[1]);
            Files.setPosixFilePermissions(root.resolve("d"), PosixFilePermissions.fromString("rwx------"));
            DirtyHints h = w.drain();
            assertThat(h.all()).isFalse();
            assertThat(h.files()).contains("d/f", "n", "d");
            assertThat(h.dirs()).containsExactly("");
            assertThat(h.trees()).isEmpty();
        }
    }

    @Test
    void newAndMovedDirectoriesAreWatchedAndWalked() throws Exception {
        Files.createDirectories(root.resolve("x"));
        try (DirWatcher w = DirWatcher.watch(root)) {
            w.drain();
            Files.createDirectories(root.resolve("new/deep"));
            Files.write(root.resolve("new/deep/f"), new byte[1]); // before its watch exists: covered by trees
            DirtyHints h = w.drain();
            assertThat(h.trees()).contains("new");
            assertThat(w.watchCount()).isEqualTo(4);

            Files.move(root.resolve("new"), root.resolve("x/moved"));
            h = w.drain();
            assertThat(h.dirs()).contains("", "x");
            assertThat(h.trees()).contains("x/moved");
            assertThat(w.watchCount()).isEqualTo(4);

            Files.write(root.resolve("x/moved/deep/f"), new byte[2]); // the watch follows the new path
            assertThat(w.drain().files()).containsExactly("x/moved/deep/f");
        }
    }

    @Test
    void queueOverflowFallsBackToEverythingDirty() throws Exception {
        Path a = root.resolve("a"), b = root.resolve("b");
        Files.write(a, new byte[1]);
        Files.write(b, new byte[1]);
        int max = Integer.parseInt(Files.readAllLines(Path.of("/proc/sys/fs/inotify/max_queued_events")).get(0).trim());
        try (DirWatcher w = DirWatcher.watch(root);
             RandomAccessFile fa = new RandomAccessFile(a.toFile(), "rw");
             RandomAccessFile fb = new RandomAccessFile(b.toFile(), "rw")) {
            w.drain();
            // alternate files: the kernel merges only an event identical to the one queued last
            for (int i = 0; i <= max; i++) {
                fa.seek(0);
                fa.write(i);
                fb.seek(0);
                fb.write(i);
            }
            Files.createDirectories(root.resolve("late/sub")); // its event is lost; the fallback must still watch it
            DirtyHints h = w.drain();
            assertThat(h.all()).isTrue();
            assertThat(w.watchCount()).isEqualTo(3);
            assertThat(w.drain().isEmpty()).isTrue();
            Files.write(root.resolve("late/sub/f"), new byte[1]);
            assertThat(w.drain().files()).containsExactly("late/sub/f");
        }
    }
}
