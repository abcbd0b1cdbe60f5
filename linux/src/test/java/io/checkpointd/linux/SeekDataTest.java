package io.checkpointd.linux;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class SeekDataTest {
    @Test
    void findsDataAndHolesOfASparseFile(@TempDir Path dir) throws Exception {
        Path p = dir.resolve("sparse");
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(1L << 30);
            f.seek(512L << 20);
            f.write(new byte[4096]);
        }
        try (FileDescriptor fd = Syscalls.open(p.toString(), Syscalls.O_RDONLY)) {
            long data = Syscalls.seek(fd, 0, Syscalls.SEEK_DATA);
            assertThat(data).isEqualTo(512L << 20);
            assertThat(Syscalls.seek(fd, data, Syscalls.SEEK_HOLE)).isEqualTo((512L << 20) + 4096);
            assertThat(Syscalls.seek(fd, (512L << 20) + 4096, Syscalls.SEEK_DATA)).isEqualTo(-1);
        }
    }
}
