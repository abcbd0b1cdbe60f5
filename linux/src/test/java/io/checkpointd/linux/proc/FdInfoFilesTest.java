package io.checkpointd.linux.proc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** fdinfo kept open reads as a fresh open would: positions as they move, an fd number reused, an fd closed. */
class FdInfoFilesTest {
    private static final int SELF = (int) ProcessHandle.current().pid();

    @Test
    void aKeptFdinfoFollowsTheFdNumber(@TempDir Path dir) throws Exception {
        Path a = dir.resolve("a"), b = dir.resolve("b");
        Files.write(a, new byte[1000]);
        Files.write(b, new byte[1000]);
        try (FdInfoFiles info = new FdInfoFiles(SELF)) {
            int fd;
            try (FileChannel ch = FileChannel.open(a)) {
                ch.position(10);
                fd = fdOf(a);
                assertEquals("10", ProcFiles.field(info.read(fd), "pos:"));
                ch.position(20);
                assertEquals("20", ProcFiles.field(info.read(fd), "pos:"), "read afresh through the kept descriptor");
                assertEquals(1, info.kept());
            }
            // the number freed and taken again by another file: the kept fdinfo shows the new one
            try (FileChannel ch = FileChannel.open(b, StandardOpenOption.WRITE)) {
                ch.position(30);
                if (fdOf(b) == fd) {
                    String text = new String(info.read(fd));
                    assertEquals("30", ProcFiles.field(text.getBytes(), "pos:"));
                    assertEquals(new String(Files.readAllBytes(Path.of("/proc/self/fdinfo/" + fd))), text);
                }
            }
            if (!ProcFiles.fds(SELF).containsKey(fd)) {
                assertThrows(NoSuchFileException.class, () -> info.read(fd));
                assertEquals(0, info.kept(), "a gone fd's descriptor is closed");
            }
            info.read(0);
            info.retain(Set.of(1));
            assertEquals(0, info.kept(), "retain closes what the table no longer has");
        }
    }

    private static int fdOf(Path p) throws Exception {
        for (Map.Entry<Integer, String> e : ProcFiles.fds(SELF).entrySet()) {
            if (e.getValue().equals(p.toString())) return e.getKey();
        }
        throw new AssertionError(p + " not open");
    }
}
