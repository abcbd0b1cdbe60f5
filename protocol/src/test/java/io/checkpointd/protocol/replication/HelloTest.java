package io.checkpointd.protocol.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.checkpointd.protocol.ProtocolException;
import org.junit.jupiter.api.Test;

/** The Hello's protect options: carried when set, absent (the earlier format) when not. */
class HelloTest {
    @Test
    void protectOptionsRoundTrip() throws Exception {
        Hello h = new Hello(3, 4242, 99, "boot", "10.0.0.1:8080", "--hold packets --on-backup-loss continue");
        assertThat(Hello.decode(h.encode())).isEqualTo(h);
    }

    @Test
    void withoutOptionsItIsTheEarlierFormat() throws Exception {
        Hello plain = new Hello(3, 4242, 99, "boot", "10.0.0.1:8080");
        byte[] earlier = new Wire.Out(64).i64(3).i32(4242).i64(99).str("boot").str("10.0.0.1:8080").toByteArray();
        assertThat(plain.encode()).isEqualTo(earlier);
        assertThat(Hello.decode(earlier).protectOptions()).isEmpty();
    }

    @Test
    void trailingBytesAfterTheOptionsAreRefused() {
        byte[] p = new Wire.Out(64).i64(3).i32(4242).i64(99).str("boot").str("").str("--hold packets").str("x").toByteArray();
        assertThatThrownBy(() -> Hello.decode(p)).isInstanceOf(ProtocolException.class);
    }
}
