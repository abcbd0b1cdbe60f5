package io.checkpointd.protocol.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.checkpointd.protocol.Frame;
import io.checkpointd.protocol.FrameCodec;
import io.checkpointd.protocol.FrameType;
import io.checkpointd.protocol.auth.ChannelKey;
import io.checkpointd.protocol.auth.FrameAuth;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The client against a scripted fake proxy on loopback. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ProxyControlClientTest {
    private static final Duration T = Duration.ofSeconds(5);

    @Test
    void rejectedReleaseSurfacesOnTheNextCallAndSealStillWorks() throws Exception {
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             ProxyControlClient client = ProxyControlClient.connect(addr(server), ChannelKey.insecurePlaintext(), T);
             Socket proxy = server.accept()) {
            client.release(1, 0);
            Frame release = ProxyControlClient.readFrame(proxy.getInputStream(), FrameAuth.NONE);
            assertThat(release).isEqualTo(Frame.of(FrameType.RELEASE, 1, 0));
            send(proxy.getOutputStream(), new Frame(FrameType.CONTROL_REJECT, 1, 0,
                    "not sealed".getBytes(StandardCharsets.UTF_8)));
            assertThatThrownBy(() -> client.sync(T)).isInstanceOf(ControlRejectedException.class)
                    .hasMessageContaining("not sealed");

            Thread answer = new Thread(() -> {
                try {
                    Frame seal = ProxyControlClient.readFrame(proxy.getInputStream(), FrameAuth.NONE);
                    send(proxy.getOutputStream(), Frame.of(FrameType.SEALED, seal.generation(), seal.epoch()));
                } catch (IOException ignored) {
                    // the assertion below fails instead
                }
            });
            answer.start();
            client.seal(1, 3, T);
            answer.join(5_000);
        }
    }

    @Test
    void sealTimesOutWithAClearMessageAndAClosedProxyFailsLaterCalls() throws Exception {
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             ProxyControlClient client = ProxyControlClient.connect(addr(server), ChannelKey.insecurePlaintext(), T)) {
            Socket proxy = server.accept();
            assertThatThrownBy(() -> client.seal(1, 0, Duration.ofMillis(100))).isInstanceOf(IOException.class)
                    .hasMessageContaining("SEAL(gen 1, epoch 0)").hasMessageContaining("no reply");
            proxy.close();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            IOException failure = null;
            while (failure == null && System.nanoTime() < deadline) {
                try {
                    client.passthrough(1, Duration.ofMillis(200));
                } catch (IOException e) {
                    failure = e;
                }
            }
            assertThat(failure).isNotNull();
        }
    }

    @Test
    void aSealStartedIsOnTheWireBeforeItsAnswerIsAwaited() throws Exception {
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             ProxyControlClient client = ProxyControlClient.connect(addr(server), ChannelKey.insecurePlaintext(), T);
             Socket proxy = server.accept()) {
            // the fake proxy reads the SEAL while the client has not begun to wait: sealStart sent it and returned
            ProxyControlClient.Sealing sealing = client.sealStart(1, 7);
            Frame seal = ProxyControlClient.readFrame(proxy.getInputStream(), FrameAuth.NONE);
            assertThat(seal).isEqualTo(Frame.of(FrameType.SEAL, 1, 7));
            assertThatThrownBy(() -> sealing.await(Duration.ofMillis(100))).isInstanceOf(IOException.class)
                    .hasMessageContaining("no reply");
            ProxyControlClient.Sealing next = client.sealStart(1, 8);
            assertThat(ProxyControlClient.readFrame(proxy.getInputStream(), FrameAuth.NONE)).isEqualTo(Frame.of(FrameType.SEAL, 1, 8));
            send(proxy.getOutputStream(), Frame.of(FrameType.SEALED, 1, 7));
            send(proxy.getOutputStream(), Frame.of(FrameType.SEALED, 1, 8));
            next.await(T);
            // an answer for another epoch is refused
            ProxyControlClient.Sealing wrong = client.sealStart(1, 9);
            ProxyControlClient.readFrame(proxy.getInputStream(), FrameAuth.NONE);
            send(proxy.getOutputStream(), Frame.of(FrameType.SEALED, 1, 10));
            assertThatThrownBy(() -> wrong.await(T)).isInstanceOf(IOException.class).hasMessageContaining("answered by");
        }
    }

    private static InetSocketAddress addr(ServerSocket s) {
        return (InetSocketAddress) s.getLocalSocketAddress();
    }

    private static void send(OutputStream out, Frame f) throws IOException {
        ByteBuf buf = Unpooled.buffer();
        FrameCodec.encode(f, buf, FrameAuth.NONE);
        byte[] b = new byte[buf.readableBytes()];
        buf.readBytes(b);
        out.write(b);
        out.flush();
    }
}
