package io.checkpointd.protocol.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.checkpointd.protocol.image.criu.TcpStream.tcp_stream_entry;
import java.io.IOException;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** {@code tcp-stream-<ino>.img}: CRIU's framing (magics, one entry, raw queues), names, and refusals. */
class TcpStreamImageTest {
    @Test
    void encodesAsCriuWritesAndParsesBack() throws IOException {
        tcp_stream_entry e = entry(3, 5);
        byte[] inq = {1, 2, 3}, outq = {9, 8, 7, 6, 5};
        byte[] file = TcpStreamImage.of(e, inq, outq).encode();
        // IMG_COMMON_MAGIC, TCP_STREAM_MAGIC, entry size: little-endian
        assertThat(Arrays.copyOfRange(file, 0, 8)).containsExactly(0x19, 0x43, 0x56, 0x54, 0x06, 0x55, 0x46, 0x51);
        int size = file[8] & 0xff;
        assertThat(file).hasSize(12 + size + 3 + 5);
        assertThat(Arrays.copyOfRange(file, 12 + size, file.length)).containsExactly(1, 2, 3, 9, 8, 7, 6, 5);
        TcpStreamImage back = TcpStreamImage.parse(file);
        assertThat(back.inq()).containsExactly(inq);
        assertThat(back.outq()).containsExactly(outq);
        assertThat(back.entry()).isEqualTo(e);
        assertThat(back.encode()).isEqualTo(file);
        assertThat(TcpStreamImage.name(0x3aefcfL)).isEqualTo("tcp-stream-3aefcf.img");
    }

    @Test
    void refusesQueuesThatDisagreeWithTheEntry() throws IOException {
        assertThatThrownBy(() -> TcpStreamImage.of(entry(2, 0), new byte[3], new byte[0])).isInstanceOf(IllegalArgumentException.class);
        byte[] file = TcpStreamImage.of(entry(3, 0), new byte[3], new byte[0]).encode();
        assertThatThrownBy(() -> TcpStreamImage.parse(Arrays.copyOf(file, file.length - 1))).isInstanceOf(IOException.class);
        byte[] wrongMagic = file.clone();
        wrongMagic[4] = 0;
        assertThatThrownBy(() -> TcpStreamImage.parse(wrongMagic)).isInstanceOf(IOException.class);
    }

    private static tcp_stream_entry entry(int inq, int outq) {
        return tcp_stream_entry.newBuilder().setInqLen(inq).setInqSeq(1000).setOutqLen(outq).setOutqSeq(2000).setOptMask(7)
                .setSndWscale(7).setMssClamp(65495).setUnsqLen(0).build();
    }
}
