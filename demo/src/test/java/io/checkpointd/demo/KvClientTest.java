package io.checkpointd.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class KvClientTest {

    @Test
    void putAndGetAgainstARealServer() throws IOException {
        try (KvServer server = KvServer.start("127.0.0.1", 0);
                KvClient c = KvClient.connect(server.address(), Duration.ofSeconds(1), Duration.ofSeconds(1))) {
            assertThat(c.get("x")).isEmpty();
            assertThat(c.put("x", "1")).isTrue();
            assertThat(c.get("x")).contains("1");
            assertThat(c.remoteAddress()).isEqualTo(server.address());
        }
    }

    @Test
    void refusedConnectionIsAnIOException() throws IOException {
        InetSocketAddress dead;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            dead = (InetSocketAddress) s.getLocalSocketAddress();
        }
        assertThatThrownBy(() -> KvClient.connect(dead)).isInstanceOf(ConnectException.class);
    }

    @Test
    void silentServerTimesOut() throws Exception {
        try (FakeServer fake = new FakeServer(req -> null)) {
            try (KvClient c = KvClient.connect(fake.address(), Duration.ofSeconds(1), Duration.ofMillis(200))) {
                long t0 = System.nanoTime();
                assertThatThrownBy(() -> c.put("k", "v")).isInstanceOf(SocketTimeoutException.class);
                assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
            }
        }
    }

    @Test
    void errReplyIsNotAnAckAndGarbageIsAnIOException() throws Exception {
        try (FakeServer fake = new FakeServer(req -> req.startsWith("PUT") ? "ERR nope" : "HUH")) {
            try (KvClient c = KvClient.connect(fake.address())) {
                assertThat(c.put("k", "v")).isFalse();
                assertThatThrownBy(() -> c.get("k")).isInstanceOf(IOException.class).hasMessageContaining("HUH");
            }
        }
    }

    @Test
    void serverClosingMidRequestIsEof() throws Exception {
        try (FakeServer fake = new FakeServer(req -> {
            throw new IllegalStateException("close");
        })) {
            try (KvClient c = KvClient.connect(fake.address())) {
                assertThatThrownBy(() -> c.get("k")).isInstanceOf(IOException.class);
            }
        }
    }

    @Test
    void invalidTokensAreRejectedLocally() throws IOException {
        try (KvServer server = KvServer.start("127.0.0.1", 0); KvClient c = KvClient.connect(server.address())) {
            assertThatThrownBy(() -> c.put("a b", "1")).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> c.put("a", "")).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> c.get("a\nPUT x 1")).isInstanceOf(IllegalArgumentException.class);
            c.ping(); // nothing was sent
            assertThat(server.store().size()).isZero();
        }
    }

    /** A one-connection-at-a-time server answering with {@code reply(request)}; null = never answer. */
    static final class FakeServer implements AutoCloseable {
        private final ServerSocket ss;
        private final Thread thread;

        FakeServer(Function<String, String> reply) throws IOException {
            ss = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
            thread = new Thread(() -> {
                while (!ss.isClosed()) {
                    try (Socket s = ss.accept()) {
                        BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
                        OutputStream out = s.getOutputStream();
                        String line;
                        while ((line = in.readLine()) != null) {
                            String r;
                            try {
                                r = reply.apply(line);
                            } catch (IllegalStateException e) {
                                break; // close the connection
                            }
                            if (r != null) {
                                out.write((r + "\n").getBytes(StandardCharsets.UTF_8));
                                out.flush();
                            }
                        }
                    } catch (IOException e) {
                        // closed
                    }
                }
            }, "fake-server");
            thread.setDaemon(true);
            thread.start();
        }

        InetSocketAddress address() {
            return (InetSocketAddress) ss.getLocalSocketAddress();
        }

        @Override
        public void close() throws Exception {
            ss.close();
            thread.join(5000);
        }
    }

}
