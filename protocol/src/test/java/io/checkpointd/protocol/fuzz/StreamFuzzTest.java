package io.checkpointd.protocol.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.checkpointd.protocol.auth.AuthHandshake;
import io.checkpointd.protocol.auth.ChannelKey;
import io.checkpointd.protocol.auth.FrameAuth;
import io.checkpointd.protocol.control.ProxyControlClient;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Arrays;

/**
 * The blocking readers that take a peer's stream: selector bit 0 picks {@link AuthHandshake#blocking} (the peer's
 * AUTH frame, checked against a fixed key) or {@link ProxyControlClient#readFrame} (a proxy's control reply); bit 1
 * repairs the frame's checksum. The only allowed failure is an {@link IOException} (a short stream or a
 * {@link io.checkpointd.protocol.ProtocolException}).
 */
class StreamFuzzTest {
    private static final ChannelKey KEY = ChannelKey.of(seq(ChannelKey.MIN_BYTES));

    @FuzzTest(maxDuration = Fuzz.BUDGET)
    void read(byte[] data) {
        int sel = Fuzz.selector(data);
        byte[] bytes = Fuzz.body(data);
        if ((sel & 2) != 0) bytes = Fuzz.withValidCrc(bytes);
        try {
            if ((sel & 1) == 0) {
                FrameAuth auth = AuthHandshake.blocking(new ByteArrayInputStream(bytes), OutputStream.nullOutputStream(),
                        KEY, FrameAuth.Side.SERVER);
                Fuzz.check(auth.authenticated(), "the handshake with a key ended unauthenticated");
            } else {
                ProxyControlClient.readFrame(new ByteArrayInputStream(bytes), FrameAuth.NONE);
            }
        } catch (IOException e) {
            // short stream or ProtocolException: the documented refusals
        }
    }

    private static byte[] seq(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) b[i] = (byte) i;
        return b;
    }
}
