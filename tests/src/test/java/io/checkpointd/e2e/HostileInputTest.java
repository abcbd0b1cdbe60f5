package io.checkpointd.e2e;

import static io.checkpointd.e2e.HostileFrames.bytes;
import static io.checkpointd.e2e.HostileFrames.encode;
import static io.checkpointd.e2e.HostileFrames.hello;
import static io.checkpointd.e2e.HostileFrames.randomBytes;
import static io.checkpointd.e2e.HostileFrames.unknownTypeOrFlags;
import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.linux.proc.ProcessIdentity;
import io.checkpointd.protocol.replication.DeltaComputer;
import io.checkpointd.primary.ship.ReplicationClient;
import io.checkpointd.protocol.Frame;
import io.checkpointd.protocol.FrameCodec;
import io.checkpointd.protocol.FrameType;
import io.checkpointd.protocol.auth.AuthHandshake;
import io.checkpointd.protocol.auth.ChannelKey;
import io.checkpointd.protocol.auth.FrameAuth;
import io.checkpointd.protocol.auth.Link;
import io.checkpointd.protocol.control.ProxyControlClient;
import io.checkpointd.protocol.replication.EpochBegin;
import io.checkpointd.protocol.replication.EpochEnd;
import io.checkpointd.protocol.replication.Hello;
import io.checkpointd.proxy.BufferProxy;
import io.checkpointd.proxy.ProxyConfig;
import io.checkpointd.proxy.ProxyStats;
import io.checkpointd.restore.BackupConfig;
import io.checkpointd.restore.BackupDaemon;
import io.checkpointd.restore.store.FakeImage;
import io.checkpointd.restore.store.ImageStore;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile input against a real backup daemon (in-process, on a store holding a committed epoch) and a real proxy
 * control port, both authenticated with a shared key: random bytes, strangers with no or a wrong key, truncated,
 * bit-flipped and badly checksummed frames, validly signed frames of unknown types and flags, frames replayed
 * from another connection or within one, and — from a peer that has the key — stale and future generations and
 * replayed or out-of-order epochs. After every batch: the daemon still accepts a legitimate primary, the committed
 * generation, epoch, STATE file and materialized image are byte-identical, and the proxy still serves with its
 * generation and release watermark unmoved.
 *
 * <p>Seeded: the seed is printed, and named in any failure; rerun one with {@code -Dcheckpointd.fuzz.seed=N}.
 * Bounded by {@code -Dcheckpointd.fuzz.batches} (default 8) batches of {@value #PER_BATCH} attacks and a time budget.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class HostileInputTest {
    static final long GEN = 3, FENCED = 2, EPOCH = 5;
    private static final int PER_BATCH = 16;
    private static final Duration BUDGET = Duration.ofSeconds(90);
    private static final Duration T = Duration.ofSeconds(5);
    private static final InetSocketAddress ANY = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);

    /** What one attack does. */
    enum Attack {
        RANDOM_BYTES, RANDOM_AFTER_HANDSHAKE, PLAINTEXT_STRANGER, WRONG_KEY, FORGED_KEY_ID, TRUNCATED, BIT_FLIP, BAD_CHECKSUM,
        UNKNOWN_TYPE_OR_FLAGS, REPLAY_FROM_OTHER_CONNECTION, REPLAY_WITHIN_CONNECTION, STALE_GENERATION,
        FUTURE_GENERATION, REPLAYED_OR_OUT_OF_ORDER_EPOCHS, XOR_ON_ANOTHER_BASE
    }

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path tmp;

    private final List<AutoCloseable> resources = new ArrayList<>();
    private final ChannelKey key = ChannelKey.random();
    private final BlockingQueue<Socket> upstreamAccepted = new LinkedBlockingQueue<>();
    private BackupDaemon backup;
    private BufferProxy proxy;
    private Path storeDir;
    private byte[] stateFile;
    private Map<String, byte[]> image;
    /** A page of the committed image and its content (XOR attacks). */
    private long presentPage;
    private byte[] presentPageBytes;
    private InetSocketAddress upstream;
    private HostileFrames frames;

    @BeforeEach
    void start() throws Exception {
        storeDir = tmp.resolve("store");
        commitOneEpoch();
        stateFile = Files.readAllBytes(storeDir.resolve("STATE"));
        backup = add(BackupDaemon.start(new BackupConfig(ANY, storeDir, null, Duration.ofHours(1), null, tmp.resolve("run"),
                null, key))); // no failover while we fuzz: a silent "primary" must not trigger one

        ServerSocket service = add(new ServerSocket(0, 50, InetAddress.getLoopbackAddress()));
        upstream = (InetSocketAddress) service.getLocalSocketAddress();
        frames = new HostileFrames(("127.0.0.1:" + upstream.getPort()).getBytes(StandardCharsets.US_ASCII), image, presentPage,
                presentPageBytes);
        Thread acceptor = new Thread(() -> {
            try {
                while (true) upstreamAccepted.add(add(service.accept()));
            } catch (IOException e) {
                // closed at the end of the test
            }
        }, "upstream-accept");
        acceptor.setDaemon(true);
        acceptor.start();
        proxy = add(BufferProxy.start(ProxyConfig.builder().listen(ANY).control(ANY).upstream(upstream)
                .initialGeneration(GEN).channelKey(key).build()));
        try (ProxyControlClient c = ProxyControlClient.connect(proxy.controlAddress(), key, T)) {
            c.seal(GEN, 0, T);
            c.release(GEN, 0);
            c.sync(T);
        }
    }

    @AfterEach
    void closeEverything() throws Exception {
        for (int i = resources.size() - 1; i >= 0; i--) {
            try {
                resources.get(i).close();
            } catch (Exception e) {
                // keep closing the rest
            }
        }
    }

    private <T extends AutoCloseable> T add(T r) {
        synchronized (resources) {
            resources.add(r);
        }
        return r;
    }

    @Test
    void hostileInputChangesNothingAndBothDaemonsKeepServing() throws Exception {
        long seed = Long.getLong("checkpointd.fuzz.seed", new SecureRandom().nextLong());
        int batches = Integer.getInteger("checkpointd.fuzz.batches", 8);
        System.out.println("HostileInputTest seed " + seed + " (rerun with -Dcheckpointd.fuzz.seed=" + seed + ")");
        Random rnd = new Random(seed);
        Map<Attack, Integer> count = new EnumMap<>(Attack.class);
        long deadline = System.nanoTime() + BUDGET.toNanos();
        try {
            assertUnchanged("before any attack");
            for (int b = 0; b < batches && System.nanoTime() < deadline; b++) {
                for (int i = 0; i < PER_BATCH; i++) {
                    // every kind at least once per batch, in a random order, then random ones
                    Attack a = i < Attack.values().length ? Attack.values()[(i + b) % Attack.values().length]
                            : Attack.values()[rnd.nextInt(Attack.values().length)];
                    boolean atBackup = rnd.nextBoolean();
                    count.merge(a, 1, Integer::sum);
                    run(a, atBackup, rnd);
                }
                assertUnchanged("after batch " + b);
            }
        } catch (AssertionError | Exception e) {
            throw new AssertionError("HostileInputTest failed with seed " + seed + " (rerun with -Dcheckpointd.fuzz.seed="
                    + seed + "): " + e.getMessage(), e);
        }
        System.out.println("HostileInputTest: attacks " + count);
        assertThat(count).hasSize(Attack.values().length);
        // the proxy is not just answering: a legitimate seal and release still moves output to clients
        try (ProxyControlClient c = ProxyControlClient.connect(proxy.controlAddress(), key, T);
             Socket client = new Socket(proxy.listenAddress().getAddress(), proxy.listenAddress().getPort())) {
            client.setSoTimeout(5_000);
            client.getOutputStream().write("hi\n".getBytes(StandardCharsets.US_ASCII));
            Socket svc = nextUpstream();
            svc.getOutputStream().write("held\n".getBytes(StandardCharsets.US_ASCII));
            awaitHeld(5);
            c.seal(GEN, 1, T);
            c.release(GEN, 1);
            assertThat(new String(client.getInputStream().readNBytes(5), StandardCharsets.US_ASCII)).isEqualTo("held\n");
        }
    }

    // ---- the invariants -------------------------------------------------------------------------------------

    private void assertUnchanged(String when) throws Exception {
        // a legitimate primary is still accepted, and told the same committed epoch (this also waits for the
        // store thread: the handshake's HELLO is handled after every frame queued before it)
        Hello hello = new Hello(GEN, 99_999, 1, ProcessIdentity.currentBootId(), "");
        try (ReplicationClient c = ReplicationClient.connect(backup.boundAddress(), key, hello, Duration.ofMillis(100), T, new IgnoringListener())) {
            assertThat(c.helloOk().committedGeneration()).as(when).isEqualTo(GEN);
            assertThat(c.helloOk().committedEpoch()).as(when).isEqualTo(EPOCH);
        }
        assertThat(backup.state()).as(when).isIn(BackupDaemon.State.WAITING, BackupDaemon.State.REPLICATING);
        ImageStore store = backup.store();
        assertThat(store.committedGeneration()).as(when).isEqualTo(GEN);
        assertThat(store.committedEpoch()).as(when).isEqualTo(EPOCH);
        assertThat(store.fencedGeneration()).as(when).isEqualTo(FENCED);
        assertThat(Files.readAllBytes(storeDir.resolve("STATE"))).as(when + ": STATE").isEqualTo(stateFile);
        Path out = Files.createTempDirectory(tmp, "materialized");
        Files.delete(out);
        store.materialize(out);
        Map<String, byte[]> now = readDir(out);
        assertThat(now.keySet()).as(when).isEqualTo(image.keySet());
        for (String n : image.keySet()) assertThat(now.get(n)).as(when + ": " + n).isEqualTo(image.get(n));

        // the proxy answers an authenticated request (a re-seal of the last sealed epoch changes nothing) …
        try (ProxyControlClient c = ProxyControlClient.connect(proxy.controlAddress(), key, T)) {
            c.seal(GEN, 0, T);
        }
        ProxyStats s = proxy.stats();
        assertThat(s.generation()).as(when + ": proxy generation").isEqualTo(GEN);
        assertThat(s.lastReleased()).as(when + ": proxy lastReleased").isZero();
        assertThat(s.lastSealed()).as(when + ": proxy lastSealed").isZero();
        assertThat(s.passthrough()).as(when + ": proxy passthrough").isFalse();
        // … and still relays a client to the service
        try (Socket client = new Socket(proxy.listenAddress().getAddress(), proxy.listenAddress().getPort())) {
            client.getOutputStream().write("ping".getBytes(StandardCharsets.US_ASCII));
            Socket svc = nextUpstream();
            svc.setSoTimeout(5_000);
            assertThat(new String(svc.getInputStream().readNBytes(4), StandardCharsets.US_ASCII)).as(when).isEqualTo("ping");
            svc.close();
        }
    }

    private Socket nextUpstream() throws InterruptedException {
        Socket s = upstreamAccepted.poll(5, TimeUnit.SECONDS);
        assertThat(s).as("the proxy connected a client to the service").isNotNull();
        return s;
    }

    private void awaitHeld(long bytes) throws InterruptedException {
        long deadline = System.nanoTime() + T.toNanos();
        while (proxy.stats().heldBytes() < bytes && System.nanoTime() < deadline) Thread.sleep(10);
        assertThat(proxy.stats().heldBytes()).isGreaterThanOrEqualTo(bytes);
    }

    // ---- the attacks ----------------------------------------------------------------------------------------

    private void run(Attack a, boolean atBackup, Random rnd) throws Exception {
        InetSocketAddress target = atBackup ? backup.boundAddress() : proxy.controlAddress();
        try (Socket s = new Socket()) {
            s.connect(target, 5_000);
            s.setSoTimeout(2_000); // for the handshake; drain() waits less
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            try {
                switch (a) {
                    case RANDOM_BYTES -> out.write(randomBytes(rnd, 1 + rnd.nextInt(4096)));
                    case RANDOM_AFTER_HANDSHAKE -> {
                        handshake(s, key);
                        out.write(randomBytes(rnd, 1 + rnd.nextInt(4096)));
                    }
                    case PLAINTEXT_STRANGER -> out.write(encode(frames.harmful(atBackup, rnd), FrameAuth.NONE));
                    case WRONG_KEY -> {
                        ChannelKey other = ChannelKey.random();
                        FrameAuth auth = handshakeExpectingRefusal(s, other);
                        out.write(encode(frames.harmful(atBackup, rnd), auth));
                    }
                    case FORGED_KEY_ID -> out.write(encode(frames.harmful(atBackup, rnd), forgedHandshake(s)));
                    case TRUNCATED -> {
                        byte[] b = encode(frames.conversation(atBackup, rnd), handshake(s, key));
                        out.write(b, 0, rnd.nextInt(b.length));
                    }
                    case BIT_FLIP -> {
                        byte[] b = encode(frames.conversation(atBackup, rnd), handshake(s, key));
                        int bit = rnd.nextInt(b.length * 8);
                        b[bit / 8] ^= (byte) (1 << (bit % 8));
                        out.write(b);
                    }
                    case BAD_CHECKSUM -> {
                        FrameAuth auth = handshake(s, key);
                        List<Frame> session = frames.conversation(atBackup, rnd);
                        int bad = rnd.nextInt(session.size());
                        for (int i = 0; i < session.size(); i++) {
                            ByteBuf buf = Unpooled.buffer();
                            FrameCodec.encode(session.get(i), buf, auth);
                            int crcAt = FrameCodec.HEADER + buf.getInt(24);
                            int at = crcAt + rnd.nextInt(4);
                            if (i == bad) buf.setByte(at, buf.getByte(at) ^ (1 + rnd.nextInt(255)));
                            out.write(bytes(buf));
                        }
                    }
                    case UNKNOWN_TYPE_OR_FLAGS -> {
                        // signed with the right key and checksummed: only the codec's own checks can refuse it
                        FrameAuth auth = rnd.nextInt(4) == 0 ? FrameAuth.NONE : handshake(s, key);
                        out.write(unknownTypeOrFlags(rnd, auth));
                    }
                    case REPLAY_FROM_OTHER_CONNECTION -> {
                        byte[] captured;
                        try (Socket first = new Socket()) {
                            first.connect(target, 5_000);
                            first.setSoTimeout(2_000);
                            // frames a legitimate peer signed for another connection, e.g. recorded off the wire
                            captured = encode(frames.harmful(atBackup, rnd), handshake(first, key));
                        }
                        handshake(s, key);
                        out.write(captured);
                    }
                    case REPLAY_WITHIN_CONNECTION -> {
                        FrameAuth auth = handshake(s, key);
                        byte[] once = encode(List.of(atBackup ? hello(GEN) : Frame.of(FrameType.SEAL, GEN, 0)), auth);
                        out.write(once);
                        out.write(once); // the same bytes again: the frame counter no longer matches
                        out.write(encode(frames.harmful(atBackup, rnd), FrameAuth.NONE));
                    }
                    case STALE_GENERATION -> out.write(encode(frames.staleGeneration(atBackup, rnd), handshake(s, key)));
                    case FUTURE_GENERATION -> out.write(encode(frames.futureGeneration(atBackup, rnd), handshake(s, key)));
                    case REPLAYED_OR_OUT_OF_ORDER_EPOCHS -> out.write(encode(frames.outOfOrder(atBackup, rnd), handshake(s, key)));
                    case XOR_ON_ANOTHER_BASE -> out.write(encode(atBackup ? frames.xorOnAnotherBase(rnd) : frames.outOfOrder(false, rnd), handshake(s, key)));
                }
                out.flush();
            } catch (IOException e) {
                // the daemon dropped us mid-write: exactly what it should do
            }
            drain(s);
        }
    }

    /** Reads whatever the daemon answers until it closes the connection or goes quiet. */
    private static void drain(Socket s) {
        byte[] buf = new byte[4096];
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(500);
        try {
            s.setSoTimeout(250);
            while (System.nanoTime() < deadline && s.getInputStream().read(buf) >= 0) {
                // discard
            }
        } catch (SocketTimeoutException e) {
            // quiet: it keeps the connection (a rejected request is answered, not dropped)
        } catch (IOException e) {
            // reset: dropped
        }
    }

    // ---- handshakes -----------------------------------------------------------------------------------------

    private FrameAuth handshake(Socket s, ChannelKey k) throws IOException {
        // each port has its own key (the control port's is the one the proxy holds)
        Link link = s.getPort() == proxy.controlAddress().getPort() ? Link.CONTROL : Link.REPLICATION;
        return AuthHandshake.blocking(s.getInputStream(), s.getOutputStream(), k, link, FrameAuth.Side.CLIENT);
    }

    /** A wrong key: the daemon names the mismatch and drops us; we carry on as if it had not. */
    private FrameAuth handshakeExpectingRefusal(Socket s, ChannelKey wrong) throws IOException {
        try {
            handshake(s, wrong);
        } catch (IOException expected) {
            // our side sees the different key id too
        }
        return wrong.connection(FrameAuth.Side.CLIENT, wrong.newNonce(), wrong.newNonce());
    }

    /** A stranger who copies the daemon's key id into its own AUTH frame: it gets past the handshake, not the MAC. */
    private static FrameAuth forgedHandshake(Socket s) throws IOException {
        InputStream in = s.getInputStream();
        byte[] header = in.readNBytes(FrameCodec.HEADER);
        int len = FrameCodec.frameLength(Unpooled.wrappedBuffer(header), 0, 256);
        byte[] rest = in.readNBytes(len - FrameCodec.HEADER);
        Frame theirs = FrameCodec.decodeAuth(Unpooled.wrappedBuffer(header, rest));
        byte[] p = theirs.payload();
        byte[] serverNonce = java.util.Arrays.copyOfRange(p, 1, 1 + ChannelKey.NONCE_BYTES);
        byte[] keyId = java.util.Arrays.copyOfRange(p, 1 + ChannelKey.NONCE_BYTES, p.length);
        ChannelKey guess = ChannelKey.random();
        byte[] nonce = guess.newNonce();
        byte[] mine = java.nio.ByteBuffer.allocate(p.length).put((byte) 1).put(nonce).put(keyId).array();
        s.getOutputStream().write(encode(List.of(new Frame(FrameType.AUTH, 0, 0, mine)), FrameAuth.NONE));
        return guess.connection(FrameAuth.Side.CLIENT, nonce, serverNonce);
    }

    // ---- helpers --------------------------------------------------------------------------------------------

    /** Commits generation {@value #GEN}, epoch {@value #EPOCH} of a synthetic image and fences generation {@value #FENCED}. */
    private void commitOneEpoch() throws Exception {
        FakeImage img = new FakeImage();
        img.evolve(new Random(11));
        img.evolve(new Random(12));
        Path src = tmp.resolve("image");
        img.write(src);
        ImageStore store = ImageStore.open(storeDir);
        List<byte[]> payloads = new ArrayList<>();
        DeltaComputer.Result r = DeltaComputer.compute(null, src, rec -> payloads.add(rec.encode()));
        ImageStore.EpochWriter w = store.begin(GEN, EPOCH, new EpochBegin(EpochBegin.FULL, 0, r.imageBytes()));
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        for (byte[] p : payloads) {
            w.add(p);
            md.update(p);
        }
        w.commit(new EpochEnd(payloads.size(), md.digest(), r.manifest()));
        store.fence(FENCED);
        image = readDir(src);
        presentPage = img.pageMap().firstKey();
        presentPageBytes = img.pageMap().firstEntry().getValue().clone();
        Path check = tmp.resolve("check");
        store.materialize(check);
        assertThat(readDir(check).keySet()).isEqualTo(image.keySet());
        // closed before the backup opens the directory: its standby batch must not write under the backup's store
        store.close();
    }

    private static Map<String, byte[]> readDir(Path dir) throws IOException {
        Map<String, byte[]> m = new TreeMap<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : (Iterable<Path>) s::iterator) m.put(p.getFileName().toString(), Files.readAllBytes(p));
        }
        return m;
    }
}
