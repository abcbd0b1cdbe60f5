package io.checkpointd.e2e;

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
import io.checkpointd.protocol.replication.EpochRecord;
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
import java.util.zip.CRC32C;
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
    private static final long GEN = 3, FENCED = 2, EPOCH = 5;
    private static final int PER_BATCH = 16;
    private static final Duration BUDGET = Duration.ofSeconds(90);
    private static final Duration T = Duration.ofSeconds(5);
    private static final InetSocketAddress ANY = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
    /** FrameCodec's "a MAC follows" flag bit (package-private there; part of the wire format). */
    private static final int FLAG_MAC = 2;

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

    @BeforeEach
    void start() throws Exception {
        storeDir = tmp.resolve("store");
        commitOneEpoch();
        stateFile = Files.readAllBytes(storeDir.resolve("STATE"));
        backup = add(BackupDaemon.start(new BackupConfig(ANY, storeDir, null, Duration.ofHours(1), null, tmp.resolve("run"),
                null, key))); // no failover while we fuzz: a silent "primary" must not trigger one

        ServerSocket service = add(new ServerSocket(0, 50, InetAddress.getLoopbackAddress()));
        upstream = (InetSocketAddress) service.getLocalSocketAddress();
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
                    case PLAINTEXT_STRANGER -> out.write(encode(harmful(atBackup, rnd), FrameAuth.NONE));
                    case WRONG_KEY -> {
                        ChannelKey other = ChannelKey.random();
                        FrameAuth auth = handshakeExpectingRefusal(s, other);
                        out.write(encode(harmful(atBackup, rnd), auth));
                    }
                    case FORGED_KEY_ID -> out.write(encode(harmful(atBackup, rnd), forgedHandshake(s)));
                    case TRUNCATED -> {
                        byte[] b = encode(conversation(atBackup, rnd), handshake(s, key));
                        out.write(b, 0, rnd.nextInt(b.length));
                    }
                    case BIT_FLIP -> {
                        byte[] b = encode(conversation(atBackup, rnd), handshake(s, key));
                        int bit = rnd.nextInt(b.length * 8);
                        b[bit / 8] ^= (byte) (1 << (bit % 8));
                        out.write(b);
                    }
                    case BAD_CHECKSUM -> {
                        FrameAuth auth = handshake(s, key);
                        List<Frame> frames = conversation(atBackup, rnd);
                        int bad = rnd.nextInt(frames.size());
                        for (int i = 0; i < frames.size(); i++) {
                            ByteBuf buf = Unpooled.buffer();
                            FrameCodec.encode(frames.get(i), buf, auth);
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
                            captured = encode(harmful(atBackup, rnd), handshake(first, key));
                        }
                        handshake(s, key);
                        out.write(captured);
                    }
                    case REPLAY_WITHIN_CONNECTION -> {
                        FrameAuth auth = handshake(s, key);
                        byte[] once = encode(List.of(atBackup ? hello(GEN) : Frame.of(FrameType.SEAL, GEN, 0)), auth);
                        out.write(once);
                        out.write(once); // the same bytes again: the frame counter no longer matches
                        out.write(encode(harmful(atBackup, rnd), FrameAuth.NONE));
                    }
                    case STALE_GENERATION -> out.write(encode(staleGeneration(atBackup, rnd), handshake(s, key)));
                    case FUTURE_GENERATION -> out.write(encode(futureGeneration(atBackup, rnd), handshake(s, key)));
                    case REPLAYED_OR_OUT_OF_ORDER_EPOCHS -> out.write(encode(outOfOrder(atBackup, rnd), handshake(s, key)));
                    case XOR_ON_ANOTHER_BASE -> out.write(encode(atBackup ? xorOnAnotherBase(rnd) : outOfOrder(false, rnd), handshake(s, key)));
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

    /** A plausible session of each channel whose content is wrong in some way the receiver must refuse. */
    private List<Frame> conversation(boolean atBackup, Random rnd) {
        return switch (rnd.nextInt(3)) {
            case 0 -> outOfOrder(atBackup, rnd);
            case 1 -> futureGeneration(atBackup, rnd);
            default -> staleGeneration(atBackup, rnd);
        };
    }

    /** Frames that would change the committed state if they were ever applied: only strangers and replays send them. */
    private List<Frame> harmful(boolean atBackup, Random rnd) {
        if (atBackup) {
            long gen = GEN + 1 + rnd.nextInt(5);
            return List.of(hello(gen), new Frame(FrameType.EPOCH_BEGIN, gen, EPOCH + 1, new EpochBegin(EpochBegin.FULL, 0, 0).encode()),
                    new Frame(FrameType.EPOCH_END, gen, EPOCH + 1, new EpochEnd(0, sha256(new byte[0]), Map.of()).encode()),
                    Frame.of(FrameType.PRIMARY_EXIT, gen, EPOCH + 1));
        }
        return List.of(Frame.of(FrameType.SEAL, GEN, 7), Frame.of(FrameType.RELEASE, GEN, 7),
                new Frame(FrameType.GENERATION, GEN + 1 + rnd.nextInt(5), 0, "127.0.0.1:9".getBytes(StandardCharsets.US_ASCII)),
                Frame.of(FrameType.PASSTHROUGH, GEN, 0));
    }

    /** From a peer with the key: generations already fenced / older than the proxy's. */
    private List<Frame> staleGeneration(boolean atBackup, Random rnd) {
        long gen = 1 + rnd.nextInt((int) FENCED);
        if (atBackup) {
            return List.of(hello(gen), new Frame(FrameType.EPOCH_BEGIN, gen, EPOCH + 1, new EpochBegin(EpochBegin.FULL, 0, 0).encode()));
        }
        return List.of(Frame.of(FrameType.SEAL, gen, 9), Frame.of(FrameType.RELEASE, gen, 0), Frame.of(FrameType.PASSTHROUGH, gen, 0),
                new Frame(FrameType.GENERATION, gen, 0, upstreamBytes()));
    }

    /**
     * From a peer with the key: a generation nobody announced. The backup admits a newer primary (that is how a
     * new primary arrives) but nothing it sends here is a committable epoch; the proxy refuses until announced.
     */
    private List<Frame> futureGeneration(boolean atBackup, Random rnd) {
        long gen = GEN + 1 + rnd.nextInt(100);
        if (atBackup) {
            byte[] junk = randomBytes(rnd, rnd.nextInt(2000));
            return List.of(hello(gen),
                    new Frame(FrameType.EPOCH_BEGIN, gen, EPOCH + 1, new EpochBegin(EPOCH, 0, 0).encode()), // delta across generations
                    new Frame(FrameType.EPOCH_BEGIN, gen, EPOCH + 2, new EpochBegin(EpochBegin.FULL, 0, 0).encode()),
                    new Frame(FrameType.EPOCH_DATA, gen, EPOCH + 2, junk),
                    new Frame(FrameType.EPOCH_END, gen, EPOCH + 2, new EpochEnd(1, sha256(junk), Map.of("x", 1L)).encode()),
                    Frame.of(FrameType.HEARTBEAT, gen + 1, EPOCH + 2)); // and a frame of yet another generation
        }
        return List.of(Frame.of(FrameType.SEAL, gen, 1), Frame.of(FrameType.RELEASE, gen, 1), Frame.of(FrameType.PASSTHROUGH, gen, 0));
    }

    /** From a peer with the key, in the current generation: epochs already committed, skipped or never opened. */
    private List<Frame> outOfOrder(boolean atBackup, Random rnd) {
        if (atBackup) {
            List<Frame> f = new ArrayList<>(List.of(hello(GEN)));
            f.add(new Frame(FrameType.EPOCH_BEGIN, GEN, EPOCH, new EpochBegin(EPOCH - 1, 0, 0).encode())); // replay of the committed
            f.add(new Frame(FrameType.EPOCH_BEGIN, GEN, EPOCH - 2, new EpochBegin(EpochBegin.FULL, 0, 0).encode())); // older, full
            f.add(new Frame(FrameType.EPOCH_BEGIN, GEN, EPOCH + 2, new EpochBegin(EPOCH + 1, 0, 0).encode())); // base not committed
            f.add(new Frame(FrameType.EPOCH_END, GEN, EPOCH + 2, new EpochEnd(0, sha256(new byte[0]), Map.of()).encode()));
            if (rnd.nextBoolean()) f.add(new Frame(FrameType.EPOCH_DATA, GEN, EPOCH + 3, randomBytes(rnd, 64))); // never begun
            else f.add(new Frame(FrameType.EPOCH_END, GEN, EPOCH + 3, new EpochEnd(0, sha256(new byte[0]), Map.of()).encode()));
            return f;
        }
        return List.of(Frame.of(FrameType.RELEASE, GEN, 1 + rnd.nextInt(50)), // not sealed
                Frame.of(FrameType.SEAL, GEN, -1 - rnd.nextInt(50)), // before the last seal
                Frame.of(FrameType.RELEASE, GEN, 0), // a replayed release: no-op
                Frame.of(FrameType.HELLO, GEN, 0), Frame.of(FrameType.ACK, GEN, 3)); // not control requests
    }

    /**
     * From a peer with the key, in the current generation: the next epoch, on the committed one, complete and
     * otherwise committable, whose XOR pages were computed on another base (or a page the image lacks): refused.
     */
    private List<Frame> xorOnAnotherBase(Random rnd) {
        long v = rnd.nextBoolean() ? presentPage : 0x1000L * (1 + rnd.nextInt(1000));
        byte[] otherBase = presentPageBytes.clone();
        otherBase[rnd.nextInt(otherBase.length)] ^= (byte) (1 + rnd.nextInt(255));
        long hash = rnd.nextBoolean() ? EpochRecord.PagesXor.baseHash(otherBase, 0) : rnd.nextLong();
        byte[] xor = randomBytes(rnd, 4096);
        byte[] payload = new EpochRecord.PagesXor("pagemap-100.img", new long[] {v}, new long[] {hash}, xor).encode();
        Map<String, Long> manifest = new TreeMap<>();
        image.forEach((n, b) -> manifest.put(n, (long) b.length));
        return List.of(hello(GEN), new Frame(FrameType.EPOCH_BEGIN, GEN, EPOCH + 1, new EpochBegin(EPOCH, 0, 0).encode()),
                new Frame(FrameType.EPOCH_DATA, GEN, EPOCH + 1, payload),
                new Frame(FrameType.EPOCH_END, GEN, EPOCH + 1, new EpochEnd(1, sha256(payload), manifest).encode()));
    }

    private byte[] upstreamBytes() {
        return ("127.0.0.1:" + upstream.getPort()).getBytes(StandardCharsets.US_ASCII);
    }

    private static Frame hello(long gen) {
        return new Frame(FrameType.HELLO, gen, 0, new Hello(gen, 99_999, 1, ProcessIdentity.currentBootId(), "").encode());
    }

    /** A checksummed (and, with a key, signed) frame whose type code or flags are unknown, or whose LZ4 is junk. */
    private static byte[] unknownTypeOrFlags(Random rnd, FrameAuth auth) {
        int type = 1, flags = 0, reserved = 0;
        byte[] payload = randomBytes(rnd, rnd.nextInt(300));
        switch (rnd.nextInt(4)) {
            case 0 -> {
                do type = rnd.nextInt(256); while (FrameType.ofCode(type) != null);
            }
            case 1 -> flags = 4 << rnd.nextInt(6);
            case 2 -> reserved = 1 + rnd.nextInt(0xffff);
            default -> {
                type = FrameType.EPOCH_DATA.code();
                flags = 1; // "LZ4": the MAC is checked first, but a peer with the key may still send junk
            }
        }
        ByteBuf b = Unpooled.buffer();
        int rawLen = flags == 1 ? payload.length * 4 : payload.length;
        b.writeInt(FrameCodec.MAGIC).writeByte(type).writeByte(flags | (auth.authenticated() ? FLAG_MAC : 0)).writeShort(reserved)
                .writeLong(GEN).writeLong(EPOCH).writeInt(payload.length).writeInt(rawLen).writeBytes(payload);
        CRC32C crc = new CRC32C();
        crc.update(b.nioBuffer(0, b.writerIndex()));
        int signed = b.writerIndex();
        b.writeInt((int) crc.getValue());
        auth.sign(b, 0, signed);
        return bytes(b);
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

    private static byte[] encode(List<Frame> frames, FrameAuth auth) {
        ByteBuf buf = Unpooled.buffer();
        for (Frame f : frames) FrameCodec.encode(f, buf, auth);
        return bytes(buf);
    }

    private static byte[] bytes(ByteBuf buf) {
        byte[] b = new byte[buf.readableBytes()];
        buf.readBytes(b);
        return b;
    }

    private static byte[] randomBytes(Random rnd, int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    private static byte[] sha256(byte[] b) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(b);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

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
    }

    private static Map<String, byte[]> readDir(Path dir) throws IOException {
        Map<String, byte[]> m = new TreeMap<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : (Iterable<Path>) s::iterator) m.put(p.getFileName().toString(), Files.readAllBytes(p));
        }
        return m;
    }
}
