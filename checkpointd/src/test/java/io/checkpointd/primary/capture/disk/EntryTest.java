package io.checkpointd.primary.capture.disk;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EntryTest {
    @TempDir
    Path tmp;

    /** A path whose parent was replaced by a file between the walk and the stat (ENOTDIR) is gone, not an error. */
    @Test
    void aPathUnderAFileDoesNotExist() throws Exception {
        Path parent = Files.createDirectory(tmp.resolve("n5"));
        Files.writeString(parent.resolve("n7"), "x");
        assertThat(Entry.stat(parent.resolve("n7"))).isNotNull();
        Files.delete(parent.resolve("n7"));
        Files.delete(parent);
        Files.writeString(parent, "now a file");
        assertThat(Entry.stat(parent.resolve("n7"))).isNull();
        Files.createSymbolicLink(tmp.resolve("link"), parent);
        assertThat(Entry.stat(tmp.resolve("link").resolve("n7"))).isNull();
    }
}
