package io.checkpointd.e2e;

import static io.checkpointd.e2e.HostileInputTest.EPOCH;
import static io.checkpointd.e2e.HostileInputTest.FENCED;
import static io.checkpointd.e2e.HostileInputTest.GEN;

import io.checkpointd.linux.proc.ProcessIdentity;
import io.checkpointd.protocol.Frame;
import io.checkpointd.protocol.FrameCodec;
import io.checkpointd.protocol.FrameType;
import io.checkpointd.protocol.auth.FrameAuth;
import io.checkpointd.protocol.replication.EpochBegin;
import io.checkpointd.protocol.replication.EpochEnd;
import io.checkpointd.protocol.replication.EpochRecord;
import io.checkpointd.protocol.replication.Hello;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.zip.CRC32C;

/**
 * The frames {@link HostileInputTest} sends: each is wrong in a way the backup or the proxy must refuse, built
 * around the test's committed image (generation {@value HostileInputTest#GEN}, epoch {@value HostileInputTest#EPOCH}).
 */
final class HostileFrames {
    /** FrameCodec's "a MAC follows" flag bit (package-private there; part of the wire format). */
    private static final int FLAG_MAC = 2;

    private final byte[] upstream;
    private final Map<String, byte[]> image;
    private final long presentPage;
    private final byte[] presentPageBytes;

    /**
     * @param upstream the proxy's service address as a GENERATION frame names it
     * @param image the committed image's files
     * @param presentPage a page of the committed image, and its content (XOR attacks)
     */
    HostileFrames(byte[] upstream, Map<String, byte[]> image, long presentPage, byte[] presentPageBytes) {
        this.upstream = upstream;
        this.image = image;
        this.presentPage = presentPage;
        this.presentPageBytes = presentPageBytes;
    }

    /** A plausible session of each channel whose content is wrong in some way the receiver must refuse. */
    List<Frame> conversation(boolean atBackup, Random rnd) {
        return switch (rnd.nextInt(3)) {
            case 0 -> outOfOrder(atBackup, rnd);
            case 1 -> futureGeneration(atBackup, rnd);
            default -> staleGeneration(atBackup, rnd);
        };
    }

    /** Frames that would change the committed state if they were ever applied: only strangers and replays send them. */
    List<Frame> harmful(boolean atBackup, Random rnd) {
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
    List<Frame> staleGeneration(boolean atBackup, Random rnd) {
        long gen = 1 + rnd.nextInt((int) FENCED);
        if (atBackup) {
            return List.of(hello(gen), new Frame(FrameType.EPOCH_BEGIN, gen, EPOCH + 1, new EpochBegin(EpochBegin.FULL, 0, 0).encode()));
        }
        return List.of(Frame.of(FrameType.SEAL, gen, 9), Frame.of(FrameType.RELEASE, gen, 0), Frame.of(FrameType.PASSTHROUGH, gen, 0),
                new Frame(FrameType.GENERATION, gen, 0, upstream));
    }

    /**
     * From a peer with the key: a generation nobody announced. The backup admits a newer primary (that is how a
     * new primary arrives) but nothing it sends here is a committable epoch; the proxy refuses until announced.
     */
    List<Frame> futureGeneration(boolean atBackup, Random rnd) {
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
    List<Frame> outOfOrder(boolean atBackup, Random rnd) {
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
    List<Frame> xorOnAnotherBase(Random rnd) {
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

    static Frame hello(long gen) {
        return new Frame(FrameType.HELLO, gen, 0, new Hello(gen, 99_999, 1, ProcessIdentity.currentBootId(), "").encode());
    }

    /** A checksummed (and, with a key, signed) frame whose type code or flags are unknown, or whose LZ4 is junk. */
    static byte[] unknownTypeOrFlags(Random rnd, FrameAuth auth) {
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

    // ---- encoding -------------------------------------------------------------------------------------------

    static byte[] encode(List<Frame> frames, FrameAuth auth) {
        ByteBuf buf = Unpooled.buffer();
        for (Frame f : frames) FrameCodec.encode(f, buf, auth);
        return bytes(buf);
    }

    static byte[] bytes(ByteBuf buf) {
        byte[] b = new byte[buf.readableBytes()];
        buf.readBytes(b);
        return b;
    }

    static byte[] randomBytes(Random rnd, int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    static byte[] sha256(byte[] b) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(b);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
