package io.checkpointd.protocol.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DumpStatsTest {
    @TempDir
    Path dir;

    @Test
    void readsCriusPhaseTimesAndPageCounts() throws IOException {
        // dump_stats_entry: freezing_time 1, frozen_time 2, memdump_time 3, memwrite_time 4, pages_scanned 5,
        // pages_skipped_parent 6, pages_written 7; inside stats_entry { dump = 1 }, after CRIU's two magics
        ByteArrayOutputStream dump = new ByteArrayOutputStream();
        long[] values = {0, 1_500, 280_000, 210_000, 40_000, 540_000, 0, 9_000};
        for (int f = 1; f <= 7; f++) {
            varint(dump, f << 3);
            varint(dump, values[f]);
        }
        ByteArrayOutputStream entry = new ByteArrayOutputStream();
        varint(entry, 1 << 3 | 2);
        varint(entry, dump.size());
        entry.write(dump.toByteArray());
        ByteArrayOutputStream file = new ByteArrayOutputStream();
        file.write(new byte[] {0x54, 0x56, 0x22, 0x60, 0x12, 0x34, 0x56, 0x78}); // two magics
        int n = entry.size();
        file.write(new byte[] {(byte) n, (byte) (n >> 8), (byte) (n >> 16), (byte) (n >> 24)});
        file.write(entry.toByteArray());
        Path p = dir.resolve("stats-dump");
        Files.write(p, file.toByteArray());
        assertThat(DumpStats.read(p)).isEqualTo(new DumpStats(1_500, 280_000, 210_000, 40_000, 540_000, 9_000));

        Files.write(p, new byte[] {1, 2, 3});
        assertThatThrownBy(() -> DumpStats.read(p)).isInstanceOf(IOException.class);
    }

    private static void varint(ByteArrayOutputStream out, long v) {
        while ((v & ~0x7fL) != 0) {
            out.write((int) (v & 0x7f) | 0x80);
            v >>>= 7;
        }
        out.write((int) v);
    }
}
