package io.checkpointd.protocol.fuzz;

import io.checkpointd.protocol.Frame;
import io.checkpointd.protocol.FrameCodec;
import io.checkpointd.protocol.FrameType;
import io.checkpointd.protocol.auth.ChannelKey;
import io.checkpointd.protocol.auth.FrameAuth;
import io.checkpointd.protocol.replication.EpochBegin;
import io.checkpointd.protocol.replication.EpochEnd;
import io.checkpointd.protocol.replication.EpochRecord;
import io.checkpointd.protocol.replication.Hello;
import io.checkpointd.protocol.replication.HelloOk;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Writes the seed corpus (valid encodings, each behind its target's selector byte) into the Jazzer inputs
 * directories. Run once from the module directory when an encoding changes, and commit the result:
 * {@code java -cp target/test-classes:target/classes:<test classpath> io.checkpointd.protocol.fuzz.FuzzSeeds}.
 */
public final class FuzzSeeds {
    private static final Path ROOT = Path.of("src/test/resources/io/checkpointd/protocol/fuzz");

    private FuzzSeeds() {
    }

    public static void main(String[] args) throws IOException {
        byte[] big = new byte[8192];
        for (int i = 0; i < big.length; i++) big[i] = (byte) (i % 7);
        Hello hello = new Hello(3, 4242, 123456, "0f1e2d3c-boot", "127.0.0.1:8080");
        write("FrameFuzzTest", "decode", "hello", 1, frame(new Frame(FrameType.HELLO, 3, 0, hello.encode())));
        write("FrameFuzzTest", "decode", "lz4", 1, frame(new Frame(FrameType.EPOCH_DATA, 3, 7, big)));
        write("FrameFuzzTest", "decode", "heartbeat-first", 5, frame(Frame.of(FrameType.HEARTBEAT, 3, 7)));
        byte[] auth = authFrame();
        write("FrameFuzzTest", "decode", "auth", 3, auth);

        write("ReplicationFuzzTest", "decode", "hello", 0, hello.encode());
        write("ReplicationFuzzTest", "decode", "hello-ok", 1, new HelloOk(3, 41).encode());
        write("ReplicationFuzzTest", "decode", "epoch-begin", 2, new EpochBegin(EpochBegin.FULL, 1500, 1 << 20).encode());
        Map<String, Long> manifest = new LinkedHashMap<>();
        manifest.put("core-1.img", 1899L);
        manifest.put("pages-1.img", 8192L);
        write("ReplicationFuzzTest", "decode", "epoch-end", 3, new EpochEnd(5, new byte[32], manifest).encode());
        byte[] page = Arrays.copyOf(big, 4096);
        EpochRecord[] records = {
                new EpochRecord.FileChunk("core-1.img", 100, 10, new byte[] {1, 2, 3}),
                new EpochRecord.FileDelete("stale.img"),
                new EpochRecord.PageDelta("pagemap-1.img", new long[] {0x7f0000001000L}, page),
                new EpochRecord.PagesXor("pagemap-1.img", new long[] {0x1000}, new long[] {99}, page),
                new EpochRecord.DirRoot(0, "/var/lib/app"),
                new EpochRecord.DirMkdir(1, "a/b", 0755),
                new EpochRecord.DirCreate(1, "a/b/c", 0644),
                new EpochRecord.DirSymlink(1, "a/link", "../target"),
                new EpochRecord.DirRename(1, "a/b", "a/d"),
                new EpochRecord.DirDelete(1, "a/d/c"),
                new EpochRecord.DirResize(1, "a/file", 12345),
                new EpochRecord.DirMode(1, "a/file", 04755),
                new EpochRecord.DirOwner(1, "a/file", 1000, 100),
                new EpochRecord.DirBlocks(1, "a/file", 4096, new byte[] {9, 8, 7}),
        };
        for (EpochRecord r : records) {
            write("ReplicationFuzzTest", "decode", "record-" + r.getClass().getSimpleName(), 4, r.encode());
        }

        String[][] images = {{"sleep/pagemap-968.img", "1"}, {"python/pagemap-3145.img", "1"}, {"sleep/pagemap-968.img", "0"},
                {"sleep/core-968.img", "2"}, {"python/core-3195.img", "2"}, {"sleep/mm-968.img", "3"}, {"python/mm-3145.img", "3"}};
        for (String[] im : images) {
            byte[] img = resource(im[0]);
            write("ImageFuzzTest", "parse", im[0].replace('/', '-') + "-" + im[1], Integer.parseInt(im[1]), img);
            if (!im[0].contains("pagemap")) continue;
            // the head and the first run, for the message parsers (CriuMessageFuzzTest.PARSERS: 0 head, 1 entry)
            ByteBuffer b = ByteBuffer.wrap(img).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            int head = b.getInt(8), run = b.getInt(12 + head);
            write("CriuMessageFuzzTest", "parse", im[0].replace('/', '-'), 0, Arrays.copyOfRange(img, 12, 12 + head));
            write("CriuMessageFuzzTest", "parse", im[0].replace('/', '-') + "-entry", 1,
                    Arrays.copyOfRange(img, 16 + head, 16 + head + run));
        }
        byte[] perf = new byte[256];
        ByteBuffer.wrap(perf).putInt(0xcafec0c0);
        write("HostFilesFuzzTest", "decode", "stdio-and-perfdata", 0, new io.checkpointd.protocol.image.HostFiles(
                java.util.List.of(new io.checkpointd.protocol.image.HostFiles.Stdio(1, "pipe:[210142]"),
                        new io.checkpointd.protocol.image.HostFiles.Stdio(2, "socket:[77]")),
                java.util.List.of(new io.checkpointd.protocol.image.HostFiles.SharedFile("/tmp/hsperfdata_app/4242", 0600, 1000, 1000, perf)))
                .encode());
        write("HostFilesFuzzTest", "decode", "none", 0, io.checkpointd.protocol.image.HostFiles.NONE.encode());

        byte[] core = resource("sleep/core-968.img");
        write("CriuMessageFuzzTest", "parse", "core-entry", 2, Arrays.copyOfRange(core, 12, core.length));
        byte[] mm = resource("sleep/mm-968.img");
        write("CriuMessageFuzzTest", "parse", "mm-entry", 3, Arrays.copyOfRange(mm, 12, mm.length));

        write("StreamFuzzTest", "read", "auth", 2, auth);
        write("StreamFuzzTest", "read", "control-ok", 3, frame(Frame.of(FrameType.CONTROL_OK, 3, 7)));
        write("StreamFuzzTest", "read", "control-reject", 3,
                frame(new Frame(FrameType.CONTROL_REJECT, 3, 7, "stale generation".getBytes(StandardCharsets.UTF_8))));

        writeRaw("JsonFuzzTest", "parse", "status", ("{\"role\": \"primary\", \"epoch\": 42, \"lag\": 0.25, \"ok\": true,"
                + " \"peer\": null, \"dirs\": [\"/a\", \"b\\n\\u0041\"], \"nested\": {\"x\": -1}}").getBytes(StandardCharsets.UTF_8));
    }

    private static byte[] frame(Frame f) {
        ByteBuf b = Unpooled.buffer();
        FrameCodec.encode(f, b, FrameAuth.NONE);
        byte[] out = new byte[b.readableBytes()];
        b.readBytes(out);
        return out;
    }

    /** An AUTH frame as a peer holding {@link StreamFuzzTest}'s key sends it (version 1, a nonce, the key id). */
    private static byte[] authFrame() {
        byte[] secret = new byte[ChannelKey.MIN_BYTES];
        for (int i = 0; i < secret.length; i++) secret[i] = (byte) i;
        byte[] nonce = new byte[ChannelKey.NONCE_BYTES];
        Arrays.fill(nonce, (byte) 0x5a);
        byte[] payload = ByteBuffer.allocate(1 + ChannelKey.NONCE_BYTES + ChannelKey.KEY_ID_BYTES).put((byte) 1).put(nonce)
                .put(ChannelKey.of(secret).keyId()).array();
        return frame(new Frame(FrameType.AUTH, 0, 0, payload));
    }

    private static byte[] resource(String name) throws IOException {
        try (InputStream in = FuzzSeeds.class.getResourceAsStream("/io/checkpointd/protocol/image/" + name)) {
            if (in == null) throw new IOException("no test resource " + name);
            return in.readAllBytes();
        }
    }

    private static void write(String test, String method, String name, int selector, byte[] body) throws IOException {
        byte[] b = new byte[body.length + 1];
        b[0] = (byte) selector;
        System.arraycopy(body, 0, b, 1, body.length);
        writeRaw(test, method, name, b);
    }

    private static void writeRaw(String test, String method, String name, byte[] bytes) throws IOException {
        Path dir = ROOT.resolve(test + "Inputs").resolve(method);
        Files.createDirectories(dir);
        Files.write(dir.resolve("seed-" + name), bytes);
    }
}
