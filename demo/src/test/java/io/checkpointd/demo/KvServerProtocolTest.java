package io.checkpointd.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class KvServerProtocolTest {
    private KvServer server;
    private KvClient client;

    @BeforeEach
    void start() throws IOException {
        server = KvServer.start("127.0.0.1", 0);
        client = KvClient.connect(server.address());
    }

    @AfterEach
    void stop() {
        if (client != null) {
            client.close();
        }
        if (server != null) {
            server.close();
        }
    }

    @Test
    void pingPutGetSizeStats() throws IOException {
        assertThat(client.call("PING")).isEqualTo("PONG");
        assertThat(client.call("SIZE")).isEqualTo("SIZE 0");
        assertThat(client.call("GET a")).isEqualTo("NONE");
        assertThat(client.call("PUT a 1")).isEqualTo("OK");
        assertThat(client.call("GET a")).isEqualTo("VALUE 1");
        assertThat(client.call("PUT a 2")).isEqualTo("OK");
        assertThat(client.call("PUT b x")).isEqualTo("OK");
        assertThat(client.call("GET a")).isEqualTo("VALUE 2");
        assertThat(client.call("SIZE")).isEqualTo("SIZE 2");
        assertThat(client.call("STATS")).isEqualTo("STATS puts=3 gets=3");
        assertThat(client.size()).isEqualTo(2);
        assertThat(client.get("b")).contains("x");
        assertThat(client.get("zz")).isEmpty();
        assertThat(client.put("c", "3")).isTrue();
        client.ping();
        assertThat(client.stats()).isEqualTo("STATS puts=4 gets=5");
        assertThat(server.store().snapshot()).containsEntry("a", "2").containsEntry("b", "x").containsEntry("c", "3");
    }

    @Test
    void malformedRequestsGetErrAndTheConnectionSurvives() throws IOException {
        String[] bad = {"", "NOPE", "put a 1", "PUT", "PUT a", "PUT a 1 2", "PUT  a 1", "PUT a  1", "PUT a 1 ",
            "GET", "GET a b", "GET ", "SIZE 1", "PING x", "STATS now", " PING", "PUT a\t1", "PUT a\u00011"};
        for (String req : bad) {
            assertThat(client.call(req)).as("reply to [%s]", req).startsWith("ERR ");
        }
        assertThat(client.call("PING")).isEqualTo("PONG");
        assertThat(server.store().size()).isZero();
        assertThat(server.store().puts()).isZero();
    }

    @Test
    void tokenLengthLimitsAreInUtf8Bytes() throws IOException {
        String key256 = "k".repeat(KvProtocol.MAX_KEY_BYTES);
        String value4096 = "v".repeat(KvProtocol.MAX_VALUE_BYTES);
        assertThat(client.call("PUT " + key256 + " " + value4096)).isEqualTo("OK");
        assertThat(client.call("GET " + key256)).isEqualTo("VALUE " + value4096);
        assertThat(client.call("PUT " + key256 + "k 1")).isEqualTo("ERR token too long");
        assertThat(client.call("PUT k " + value4096 + "v")).isEqualTo("ERR token too long");
        // 128 two-byte characters = 256 bytes is fine, one more is not
        assertThat(client.call("PUT " + "ü".repeat(128) + " 1")).isEqualTo("OK");
        assertThat(client.call("PUT " + "ü".repeat(129) + " 1")).isEqualTo("ERR token too long");
        assertThatThrownBy(() -> client.put("k".repeat(257), "1")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void unicodeRoundTripsAndCrlfIsTolerated() throws IOException {
        assertThat(client.put("schlüssel", "wert-\uD83D\uDE00")).isTrue();
        assertThat(client.get("schlüssel")).contains("wert-\uD83D\uDE00");
        try (RawConn raw = new RawConn(server.address())) {
            raw.send("PING\r\nGET schlüssel\r\n".getBytes(StandardCharsets.UTF_8));
            assertThat(raw.readLine()).isEqualTo("PONG");
            assertThat(raw.readLine()).isEqualTo("VALUE wert-\uD83D\uDE00");
        }
    }

    @Test
    void invalidUtf8IsAnError() throws IOException {
        try (RawConn raw = new RawConn(server.address())) {
            raw.send(new byte[] {'P', 'U', 'T', ' ', 'a', ' ', (byte) 0xC3, (byte) 0x28, '\n', 'P', 'I', 'N', 'G', '\n'});
            assertThat(raw.readLine()).isEqualTo("ERR invalid utf-8");
            assertThat(raw.readLine()).isEqualTo("PONG");
        }
    }

    @Test
    void overlongLineGetsOneErrThenServiceContinues() throws IOException {
        try (RawConn raw = new RawConn(server.address())) {
            raw.send(("PUT a " + "x".repeat(3 * KvProtocol.MAX_LINE_BYTES) + "\nPING\n").getBytes(StandardCharsets.UTF_8));
            assertThat(raw.readLine()).isEqualTo("ERR line too long");
            assertThat(raw.readLine()).isEqualTo("PONG");
        }
        assertThat(server.store().size()).isZero();
    }

    @Test
    void pipelinedRequestsAreAnsweredInOrder() throws IOException {
        StringBuilder sb = new StringBuilder();
        int n = 2000;
        for (int i = 0; i < n; i++) {
            sb.append("PUT k").append(i % 50).append(' ').append(i).append('\n');
            sb.append("GET k").append(i % 50).append('\n');
        }
        try (RawConn raw = new RawConn(server.address())) {
            raw.send(sb.toString().getBytes(StandardCharsets.UTF_8));
            for (int i = 0; i < n; i++) {
                assertThat(raw.readLine()).isEqualTo("OK");
                assertThat(raw.readLine()).isEqualTo("VALUE " + i);
            }
        }
    }

    @Test
    void clientThatWritesFasterThanItReadsDoesNotDeadlockOrLoseReplies() throws Exception {
        String big = "v".repeat(KvProtocol.MAX_VALUE_BYTES);
        assertThat(client.put("big", big)).isTrue();
        int n = 5000; // ~20 MB of replies: far beyond socket buffers, exercises the server's backpressure
        try (RawConn raw = new RawConn(server.address())) {
            AtomicReference<Throwable> writerFailure = new AtomicReference<>();
            Thread writer = new Thread(() -> {
                try {
                    byte[] req = "GET big\n".getBytes(StandardCharsets.UTF_8);
                    for (int i = 0; i < n; i++) {
                        raw.out.write(req);
                    }
                    raw.out.flush();
                } catch (Throwable t) {
                    writerFailure.set(t);
                }
            });
            writer.start();
            Thread.sleep(200); // let the server hit a full socket before we start reading
            for (int i = 0; i < n; i++) {
                assertThat(raw.readLine()).hasSize(6 + big.length());
            }
            writer.join(10_000);
            assertThat(writerFailure.get()).isNull();
        }
    }

    @Test
    void halfClosedClientStillGetsItsReplies() throws IOException {
        try (RawConn raw = new RawConn(server.address())) {
            raw.send("PUT h 1\nPING\nGET h".getBytes(StandardCharsets.UTF_8)); // last line unterminated
            raw.socket.shutdownOutput();
            assertThat(raw.readLine()).isEqualTo("OK");
            assertThat(raw.readLine()).isEqualTo("PONG");
            assertThat(raw.readLine()).isEqualTo("VALUE 1");
            assertThat(raw.readLine()).isNull(); // then the server closes
        }
    }

    @Test
    void abruptlyResetConnectionsAreDropped() throws Exception {
        for (int i = 0; i < 20; i++) {
            Socket s = new Socket();
            s.connect(server.address(), 2000);
            s.getOutputStream().write("PUT r 1\nGET r\n".getBytes(StandardCharsets.UTF_8));
            s.setSoLinger(true, 0); // RST instead of FIN, like a peer that vanished
            s.close();
        }
        assertThat(client.call("PING")).isEqualTo("PONG");
        // the property is that they are dropped at all (a leak keeps them forever); how soon depends on the
        // machine's load: CI once saw 4 of 20 still open after 5 s, a loaded laptop 1 in 2,000 rounds
        waitUntil(() -> server.connectionCount() == 1, Duration.ofSeconds(30));
        assertThat(server.connectionCount()).isEqualTo(1);
    }

    @Test
    void closeDropsConnectionsAndThePortCanBeReboundImmediately() throws IOException {
        int port = server.port();
        assertThat(client.put("a", "1")).isTrue();
        KvStore store = server.store();
        server.close();
        assertThatThrownBy(() -> client.ping()).isInstanceOf(IOException.class);
        // SO_REUSEADDR: a restarted/restored server gets the same port despite TIME_WAIT connections
        server = KvServer.start(new KvServer.Config("127.0.0.1", port, 4, store));
        try (KvClient c = KvClient.connect(new InetSocketAddress("127.0.0.1", port))) {
            assertThat(c.get("a")).contains("1");
        }
    }

    @Test
    void runsAFixedPoolOfThreads() {
        long mine = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("kv-worker-") || t.getName().equals("kv-acceptor-" + server.port()))
                .count();
        // other tests' servers may still be winding down, so at least our 16 workers + acceptor
        assertThat(mine).isGreaterThanOrEqualTo(KvServer.DEFAULT_WORKERS + 1);
    }

    @Test
    void badConfigIsRejected() {
        assertThatThrownBy(() -> new KvServer.Config("127.0.0.1", 70000, 1, new KvStore()))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new KvServer.Config("127.0.0.1", 0, 0, new KvStore()))
                .isInstanceOf(IllegalArgumentException.class);
    }

    static void waitUntil(java.util.function.BooleanSupplier cond, Duration max) throws InterruptedException {
        long end = System.nanoTime() + max.toNanos();
        while (!cond.getAsBoolean() && System.nanoTime() - end < 0) {
            Thread.sleep(10);
        }
    }

    /** Raw socket for byte-level protocol tests. */
    static final class RawConn implements AutoCloseable {
        final Socket socket;
        final OutputStream out;
        final BufferedReader in;

        RawConn(InetSocketAddress addr) throws IOException {
            socket = new Socket();
            socket.setSoTimeout(10_000);
            socket.connect(addr, 2000);
            out = socket.getOutputStream();
            in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
        }

        void send(byte[] b) throws IOException {
            out.write(b);
            out.flush();
        }

        String readLine() throws IOException {
            return in.readLine();
        }

        List<String> readLines(int n) throws IOException {
            List<String> l = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                l.add(in.readLine());
            }
            return l;
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
