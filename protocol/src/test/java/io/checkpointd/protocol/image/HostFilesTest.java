package io.checkpointd.protocol.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class HostFilesTest {
    static HostFiles sample() {
        byte[] perf = new byte[32768];
        ByteBuffer.wrap(perf).putInt(0xcafec0c0);
        return new HostFiles(List.of(new HostFiles.Stdio(1, "pipe:[210142]"), new HostFiles.Stdio(2, "socket:[77]")),
                List.of(new HostFiles.SharedFile("/tmp/hsperfdata_app/4242", 0600, 1000, 1000, perf)));
    }

    @Test
    void roundTrips() throws IOException {
        HostFiles h = sample();
        assertThat(HostFiles.decode(h.encode())).isEqualTo(h);
        assertThat(HostFiles.decode(HostFiles.NONE.encode())).isEqualTo(HostFiles.NONE);
        assertThat(h.stdio().get(0).isSocket()).isFalse();
        assertThat(h.stdio().get(1).isSocket()).isTrue();
        assertThat(h.stdio().get(1).inode()).isEqualTo(77);
    }

    @Test
    void onlyPerfDataFilesAreCarried() {
        assertThat(HostFiles.isPerfData("/tmp/hsperfdata_root/123")).isTrue();
        assertThat(HostFiles.isPerfData("/tmp/hsperfdata_root/123/x")).isFalse();
        assertThat(HostFiles.isPerfData("/var/lib/app/state.mmap")).isFalse();
        assertThat(HostFiles.isPerfData("/tmp/hsperfdata_root/../../etc/passwd")).isFalse();
    }

    @Test
    void refusesWhatIsNotOurs() {
        byte[] good = sample().encode();
        assertThatThrownBy(() -> HostFiles.decode(Arrays.copyOf(good, good.length - 1))).isInstanceOf(IOException.class).hasMessageContaining("bytes");
        byte[] magic = good.clone();
        magic[0] ^= 1;
        assertThatThrownBy(() -> HostFiles.decode(magic)).isInstanceOf(IOException.class).hasMessageContaining("magic");
        assertThatThrownBy(() -> HostFiles.decode(Arrays.copyOf(good, good.length + 1))).hasMessageContaining("trailing");
        assertThatThrownBy(() -> HostFiles.decode(new byte[3])).hasMessageContaining("truncated");
    }

    @Test
    void refusesPathsThatEscapeAndKeysThatAreNotStreams() {
        byte[] perf = new byte[1];
        assertThatThrownBy(() -> new HostFiles.SharedFile("/tmp/../etc/shadow", 0600, 0, 0, perf)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new HostFiles.SharedFile("tmp/x", 0600, 0, 0, perf)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new HostFiles.Stdio(1, "/etc/passwd")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new HostFiles.Stdio(3, "pipe:[1]")).isInstanceOf(IllegalArgumentException.class);
        // the same refusals on the wire: an escaping path in otherwise valid bytes
        HostFiles h = new HostFiles(List.of(), List.of(new HostFiles.SharedFile("/tmp/hsperfdata_a/1", 0600, 0, 0, perf)));
        byte[] b = h.encode();
        String s = new String(b, java.nio.charset.StandardCharsets.ISO_8859_1).replace("/tmp/hsperfdata_a/1", "/tmp/hsperfdata/../x");
        assertThatThrownBy(() -> HostFiles.decode(s.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1))).isInstanceOf(IOException.class)
                .hasMessageContaining("..");
    }
}
