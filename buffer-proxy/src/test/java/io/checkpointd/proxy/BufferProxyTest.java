package io.checkpointd.proxy;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.checkpointd.protocol.Frame;
import io.checkpointd.protocol.FrameCodec;
import io.checkpointd.protocol.FrameType;
import io.checkpointd.protocol.auth.ChannelKey;
import io.checkpointd.protocol.auth.FrameAuth;
import io.checkpointd.protocol.control.ControlRejectedException;
import io.checkpointd.protocol.control.ProxyControlClient;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A real proxy on loopback between a test service and blocking clients, driven by the real control client. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class BufferProxyTest {
    private static final Duration T = Duration.ofSeconds(5);
    private static final InetSocketAddress ANY = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
    /** Largest single read of the event loop (adaptive receive buffer maximum). */
    private static final long ONE_READ = 64 * 1024;

    private final List<AutoCloseable> resources = new ArrayList<>();
    private TestService service;
    private BufferProxy proxy;
    private ProxyControlClient control;

    @BeforeEach
    void startService() throws Exception {
        service = add(new TestService());
    }

    @AfterEach
    void closeEverything() throws Exception {
        for (int i = resources.size() - 1; i >= 0; i--) resources.get(i).close();
    }

    @Test
    void outputReachesClientsOnlyAfterItsEpochIsSealedAndReleased() throws Exception {
        start(b -> { });
        TestClient client = add(new TestClient(proxy.listenAddress()));
        Socket svc = service.accept();

        client.send("ping\n"); // input is not held
        assertThat(new String(svc.getInputStream().readNBytes(5), US_ASCII)).isEqualTo("ping\n");

        write(svc, "1\n2\n");
        awaitStats(s -> s.heldBytes() == 4, "epoch 0 output held");
        client.expectNothingFor(200);
        control.seal(1, 0, T);
        write(svc, "3\n");
        awaitStats(s -> s.heldBytes() == 6, "epoch 1 output held");

        control.release(1, 0);
        assertThat(client.read(4)).isEqualTo("1\n2\n");
        client.expectNothingFor(200); // "3" was read after the seal: epoch 1

        control.seal(1, 1, T);
        control.release(1, 1);
        assertThat(client.read(2)).isEqualTo("3\n");

        // Many epochs of numbered lines: complete and in order.
        StringBuilder expected = new StringBuilder();
        for (int epoch = 2; epoch < 50; epoch++) {
            String line = "line " + epoch + "\n";
            expected.append(line);
            write(svc, line);
            long want = expected.length();
            awaitStats(s -> s.heldBytes() == want, "epoch output held");
            control.seal(1, epoch, T);
        }
        control.release(1, 49);
        assertThat(client.read(expected.length())).isEqualTo(expected.toString());

        // The service's close is output too: it waits for its epoch.
        svc.close();
        awaitStats(s -> s.connections() == 1 && s.heldBytes() == 0, "close held");
        client.expectNothingFor(200);
        control.seal(1, 50, T);
        control.release(1, 50);
        client.expectEof();
        control.sync(T);
        assertThat(proxy.stats()).satisfies(s -> {
            assertThat(s.lastSealed()).isEqualTo(50);
            assertThat(s.lastReleased()).isEqualTo(50);
            assertThat(s.rejectedControlMessages()).isZero();
        });
    }

    @Test
    void newGenerationDropsOldOutputAndClientsAndRoutesNewClientsToTheNewUpstream() throws Exception {
        start(b -> { });
        TestService restored = add(new TestService());
        TestClient old = add(new TestClient(proxy.listenAddress()));
        Socket oldSvc = service.accept();
        write(oldSvc, "never released\n");
        awaitStats(s -> s.heldBytes() == 15, "old output held");
        control.seal(1, 0, T);

        control.generation(2, restored.address(), T);
        old.expectEof();
        assertThat(oldSvc.getInputStream().read()).as("old upstream closed").isEqualTo(-1);
        assertThat(proxy.stats()).satisfies(s -> {
            assertThat(s.generation()).isEqualTo(2);
            assertThat(s.discardedBytes()).isEqualTo(15);
            assertThat(s.heldBytes()).isZero();
        });

        TestClient fresh = add(new TestClient(proxy.listenAddress()));
        Socket newSvc = restored.accept();
        write(newSvc, "gen2\n");
        awaitStats(s -> s.heldBytes() == 5, "new output held");

        // The deposed primary's seal/release must not release anything.
        assertThatThrownBy(() -> control.seal(1, 7, T)).isInstanceOf(ControlRejectedException.class)
                .hasMessageContaining("stale");
        control.release(1, 0);
        assertThatThrownBy(() -> control.sync(T)).isInstanceOf(ControlRejectedException.class);
        assertThatThrownBy(() -> control.generation(1, service.address(), T))
                .isInstanceOf(ControlRejectedException.class);
        fresh.expectNothingFor(200);
        assertThat(proxy.stats().rejectedControlMessages()).isEqualTo(3);

        control.seal(2, 0, T);
        control.release(2, 0);
        assertThat(fresh.read(5)).isEqualTo("gen2\n");
    }

    @Test
    void passthroughReleasesHeldOutputAndForwardsLaterOutputAtOnce() throws Exception {
        start(b -> { });
        TestClient client = add(new TestClient(proxy.listenAddress()));
        Socket svc = service.accept();
        write(svc, "held\n");
        awaitStats(s -> s.heldBytes() == 5, "held");
        control.passthrough(1, T);
        assertThat(client.read(5)).isEqualTo("held\n");
        write(svc, "direct\n");
        assertThat(client.read(7)).isEqualTo("direct\n");
        assertThat(proxy.stats().passthrough()).isTrue();
    }

    @Test
    void passthroughAtStartHoldsNothing() throws Exception {
        start(b -> b.passthroughAtStart(true));
        TestClient client = add(new TestClient(proxy.listenAddress()));
        write(service.accept(), "hi\n");
        assertThat(client.read(3)).isEqualTo("hi\n");
    }

    @Test
    void perConnectionCapBoundsHeldOutputAndEverythingArrivesAfterReleases() throws Exception {
        long cap = 256 * 1024;
        start(b -> b.perConnectionCap(cap));
        blastAndDrain(1, 4 << 20, cap + ONE_READ);
    }

    @Test
    void totalCapBoundsHeldOutputOverAllConnections() throws Exception {
        long cap = 256 * 1024;
        start(b -> b.totalCap(cap));
        blastAndDrain(2, 2 << 20, cap + 2 * ONE_READ); // each connection may finish one read past the cap
    }

    @Test
    void garbageOrCorruptControlConnectionsAreDroppedWhileTheProxyKeepsServing() throws Exception {
        start(b -> { });
        TestClient client = add(new TestClient(proxy.listenAddress()));
        Socket svc = service.accept();
        write(svc, "still here\n");
        awaitStats(s -> s.heldBytes() == 11, "held");

        try (Socket garbage = rawControl()) {
            garbage.getOutputStream().write("GET / HTTP/1.1\r\nHost: nonsense\r\n\r\n".repeat(2).getBytes(US_ASCII));
            assertThat(garbage.getInputStream().read()).isEqualTo(-1);
        }
        try (Socket corrupt = rawControl()) {
            ByteBuf buf = Unpooled.buffer();
            FrameCodec.encode(Frame.of(FrameType.SEAL, 1, 0), buf, FrameAuth.NONE);
            buf.setByte(buf.writerIndex() - 1, buf.getByte(buf.writerIndex() - 1) ^ 0x55); // break the CRC
            byte[] bytes = new byte[buf.readableBytes()];
            buf.readBytes(bytes);
            corrupt.getOutputStream().write(bytes);
            assertThat(corrupt.getInputStream().read()).isEqualTo(-1);
        }
        try (Socket wrongType = rawControl()) { // a well-formed frame that is no request: rejected, not dropped
            ByteBuf buf = Unpooled.buffer();
            FrameCodec.encode(Frame.of(FrameType.HELLO, 1, 0), buf, FrameAuth.NONE);
            byte[] bytes = new byte[buf.readableBytes()];
            buf.readBytes(bytes);
            wrongType.getOutputStream().write(bytes);
            Frame reply = readFrame(wrongType.getInputStream());
            assertThat(reply.type()).isEqualTo(FrameType.CONTROL_REJECT);
        }
        assertThat(proxy.stats().lastSealed()).as("the corrupt SEAL was not applied").isEqualTo(-1);

        control.close();
        try (ProxyControlClient again = ProxyControlClient.connect(proxy.controlAddress(), ChannelKey.insecurePlaintext(), T)) {
            again.seal(1, 0, T);
            again.release(1, 0);
            assertThat(client.read(11)).isEqualTo("still here\n");
            assertThatThrownBy(() -> again.generation(2, InetSocketAddress.createUnresolved("", 1), T))
                    .isInstanceOf(ControlRejectedException.class);
        }
    }

    @Test
    void newClientWaitsForAnUpstreamThatIsNotListeningYet() throws Exception {
        int port;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort();
        }
        start(b -> b.upstream(new InetSocketAddress(InetAddress.getLoopbackAddress(), port))
                .passthroughAtStart(true));
        TestClient client = add(new TestClient(proxy.listenAddress()));
        client.send("early\n");
        Thread.sleep(300); // the proxy is retrying meanwhile
        TestService late = add(new TestService(port));
        Socket svc = late.accept();
        assertThat(new String(svc.getInputStream().readNBytes(6), US_ASCII)).isEqualTo("early\n");
        write(svc, "ok\n");
        assertThat(client.read(3)).isEqualTo("ok\n");
    }

    @Test
    void newClientIsClosedWhenTheUpstreamStaysAwayForTheRetryWindow() throws Exception {
        int port;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort();
        }
        start(b -> b.upstream(new InetSocketAddress(InetAddress.getLoopbackAddress(), port))
                .upstreamRetryWindow(Duration.ofMillis(300)));
        TestClient client = add(new TestClient(proxy.listenAddress()));
        client.expectEof();
        awaitStats(s -> s.connections() == 0, "client gone");
    }

    @Test
    void clientCloseClosesTheUpstreamAndFreesItsOutput() throws Exception {
        start(b -> { });
        TestClient client = add(new TestClient(proxy.listenAddress()));
        Socket svc = service.accept();
        write(svc, "orphan\n");
        awaitStats(s -> s.heldBytes() == 7, "held");
        client.close();
        assertThat(svc.getInputStream().read()).isEqualTo(-1);
        awaitStats(s -> s.connections() == 0 && s.heldBytes() == 0 && s.discardedBytes() == 7, "freed");
    }

    // --- helpers -------------------------------------------------------------------------------------------------

    /**
     * Each of {@code connections} service connections writes {@code perConnection} bytes as fast as it can; while the
     * proxy holds them, heldBytes must stay within {@code bound}; then seal/release rounds deliver everything intact.
     */
    private void blastAndDrain(int connections, int perConnection, long bound) throws Exception {
        List<TestClient> clients = new ArrayList<>();
        List<Thread> blasters = new ArrayList<>();
        AtomicReference<Throwable> blastError = new AtomicReference<>();
        for (int i = 0; i < connections; i++) {
            clients.add(add(new TestClient(proxy.listenAddress())));
            Socket svc = service.accept();
            Thread t = new Thread(() -> {
                try {
                    OutputStream out = svc.getOutputStream();
                    byte[] chunk = new byte[16 * 1024];
                    for (int off = 0; off < perConnection; off += chunk.length) {
                        for (int j = 0; j < chunk.length; j++) chunk[j] = pattern(off + j);
                        out.write(chunk, 0, Math.min(chunk.length, perConnection - off));
                    }
                    out.flush();
                } catch (IOException e) {
                    blastError.set(e);
                }
            }, "blaster-" + i);
            t.setDaemon(true);
            t.start();
            blasters.add(t);
        }
        // Nothing is released yet: reads must stop near the cap, not run on.
        long max = 0;
        for (int i = 0; i < 50; i++) {
            max = Math.max(max, proxy.stats().heldBytes());
            Thread.sleep(10);
        }
        assertThat(max).as("held bytes without releases").isLessThanOrEqualTo(bound).isGreaterThan(bound / 2);

        List<Thread> readers = new ArrayList<>();
        List<AtomicLong> received = new ArrayList<>();
        for (TestClient c : clients) {
            AtomicLong got = new AtomicLong();
            received.add(got);
            Thread r = new Thread(() -> {
                try {
                    InputStream in = c.in();
                    byte[] buf = new byte[32 * 1024];
                    while (got.get() < perConnection) {
                        int n = in.read(buf);
                        if (n < 0) break;
                        for (int j = 0; j < n; j++) {
                            if (buf[j] != pattern(got.get() + j)) throw new AssertionError("corrupt at " + (got.get() + j));
                        }
                        got.addAndGet(n);
                    }
                } catch (Throwable e) {
                    blastError.compareAndSet(null, e);
                }
            }, "reader");
            r.setDaemon(true);
            r.start();
            readers.add(r);
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        long epoch = 0;
        while (received.stream().mapToLong(AtomicLong::get).sum() < (long) connections * perConnection) {
            assertThat(System.nanoTime() - deadline).as("all data delivered in time").isNegative();
            assertThat(blastError.get()).isNull();
            assertThat(proxy.stats().heldBytes()).isLessThanOrEqualTo(bound);
            control.seal(1, epoch, T);
            control.release(1, epoch);
            epoch++;
            Thread.sleep(2);
        }
        for (Thread t : blasters) t.join(5_000);
        for (Thread t : readers) t.join(5_000);
        assertThat(blastError.get()).isNull();
        control.sync(T);
        assertThat(proxy.stats().releasedBytes()).isEqualTo((long) connections * perConnection);
    }

    private static byte pattern(long offset) {
        return (byte) (offset % 251);
    }

    private void start(Consumer<ProxyConfig.Builder> tweak) throws IOException {
        // plain text: these tests are about output commit; authentication of the control port is tested
        // against a real proxy in the tests module (HostileInputTest)
        ProxyConfig.Builder b = ProxyConfig.builder().listen(ANY).control(ANY).upstream(service.address())
                .channelKey(ChannelKey.insecurePlaintext());
        tweak.accept(b);
        proxy = add(BufferProxy.start(b.build()));
        control = add(ProxyControlClient.connect(proxy.controlAddress(), ChannelKey.insecurePlaintext(), T));
    }

    private Socket rawControl() throws IOException {
        Socket s = new Socket();
        s.connect(proxy.controlAddress(), 5_000);
        s.setSoTimeout(5_000);
        return s;
    }

    private static Frame readFrame(InputStream in) throws IOException {
        byte[] header = in.readNBytes(FrameCodec.HEADER);
        int wire = Unpooled.wrappedBuffer(header).getInt(24);
        byte[] rest = in.readNBytes(wire + FrameCodec.TRAILER);
        return FrameCodec.decode(Unpooled.wrappedBuffer(header, rest), FrameAuth.NONE);
    }

    private static void write(Socket s, String text) throws IOException {
        s.getOutputStream().write(text.getBytes(US_ASCII));
        s.getOutputStream().flush();
    }

    private void awaitStats(Predicate<ProxyStats> condition, String what) throws InterruptedException {
        ProxyStatsWait.awaitStats(proxy, condition, what);
    }

    private <T extends AutoCloseable> T add(T resource) {
        resources.add(resource);
        return resource;
    }
}
