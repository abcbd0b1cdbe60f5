package io.checkpointd.restore.store;

import org.junit.jupiter.api.AfterEach;
import static io.checkpointd.restore.store.StoreAssertions.assertSameImage;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.checkpointd.protocol.replication.DeltaComputer;
import io.checkpointd.protocol.image.ImageDirs;
import io.checkpointd.protocol.image.Pagemap;
import io.checkpointd.protocol.replication.EpochBegin;
import io.checkpointd.protocol.replication.EpochRecord;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * XOR-compressed pages ({@link EpochRecord.PagesXor}) through the backup's store: rebuilt on the committed image,
 * refused on any other base, logged plain (replay at open and compaction see ordinary page deltas).
 */
class XorStoreTest {
    private static final int PAGE = Pagemap.PAGE_SIZE;

    @TempDir
    Path tmp;

    /** Every store a test opened, closed after it: a store's standby image is written behind its commits. */
    private final List<ImageStore> stores = new ArrayList<>();

    private ImageStore open(Path dir) throws IOException {
        ImageStore s = ImageStore.open(dir);
        stores.add(s);
        return s;
    }

    @AfterEach
    void closeStores() throws InterruptedException {
        for (ImageStore s : stores) s.close();
    }

    /** An epoch's payloads with every page that {@code base} holds sent as XOR against {@code xorBase}'s version. */
    private static List<byte[]> xored(List<EpochRecord> records, Map<Long, byte[]> xorBase, int[] xorPages) {
        List<byte[]> out = new ArrayList<>();
        for (EpochRecord rec : records) {
            if (!(rec instanceof EpochRecord.PageDelta p)) {
                out.add(rec.encode());
                continue;
            }
            List<Integer> plain = new ArrayList<>(), xor = new ArrayList<>();
            for (int i = 0; i < p.vaddrs().length; i++) (xorBase.containsKey(p.vaddrs()[i]) ? xor : plain).add(i);
            out.add(subset(p, plain).encode());
            if (xor.isEmpty()) continue;
            long[] v = new long[xor.size()], h = new long[xor.size()];
            byte[] x = new byte[xor.size() * PAGE];
            for (int k = 0; k < xor.size(); k++) {
                int i = xor.get(k);
                v[k] = p.vaddrs()[i];
                byte[] b = xorBase.get(v[k]);
                h[k] = EpochRecord.PagesXor.baseHash(b, 0);
                for (int j = 0; j < PAGE; j++) x[k * PAGE + j] = (byte) (p.pages()[i * PAGE + j] ^ b[j]);
            }
            out.add(new EpochRecord.PagesXor(p.pagemapName(), v, h, x).encode());
            xorPages[0] += xor.size();
        }
        return out;
    }

    private static EpochRecord.PageDelta subset(EpochRecord.PageDelta p, List<Integer> idx) {
        long[] v = new long[idx.size()];
        byte[] d = new byte[idx.size() * PAGE];
        for (int k = 0; k < idx.size(); k++) {
            v[k] = p.vaddrs()[idx.get(k)];
            System.arraycopy(p.pages(), idx.get(k) * PAGE, d, k * PAGE, PAGE);
        }
        return new EpochRecord.PageDelta(p.pagemapName(), v, d);
    }

    private static TreeMap<Long, byte[]> copy(FakeImage img) {
        TreeMap<Long, byte[]> m = new TreeMap<>();
        img.pages.forEach((k, v) -> m.put(k, v.clone()));
        return m;
    }

    @Test
    void xorEpochsMaterializeIdenticallyThroughReopensAndCompactions() throws Exception {
        Random rnd = new Random(17);
        FakeImage img = new FakeImage();
        Path storeDir = tmp.resolve("store");
        ImageStore store = open(storeDir);
        Path prev = null;
        TreeMap<Long, byte[]> committed = null;
        int[] xorPages = {0};
        for (int epoch = 1; epoch <= 90; epoch++) {
            img.evolve(rnd);
            Path cur = tmp.resolve("primary-" + epoch);
            img.write(cur);
            List<EpochRecord> recs = new ArrayList<>();
            DeltaComputer.Result r = DeltaComputer.compute(prev, cur, recs::add);
            List<byte[]> payloads = committed == null ? encode(recs) : xored(recs, committed, xorPages);
            commit(store, 1, epoch, prev == null ? EpochBegin.FULL : epoch - 1, payloads, r);
            assertThat(store.committedEpoch()).isEqualTo(epoch);
            if (epoch % 7 == 0) {
                store.close();
                store = open(storeDir); // replay of the logs from disk
            } else if (epoch % 5 == 0) {
                store.awaitCompaction(); // else a compaction may run while the next epoch's XORs are resolved
            }
            assertSameImage(store, cur, "epoch " + epoch);
            if (prev != null) ImageDirs.deleteTree(prev);
            prev = cur;
            committed = copy(img);
        }
        assertThat(xorPages[0]).as("pages shipped as XOR").isGreaterThan(200);
        store.awaitCompaction();
        assertThat(Files.list(storeDir).filter(p -> p.getFileName().toString().startsWith("base-")).count())
                .as("compacted into a base").isEqualTo(1);
        long baseEpoch;
        try (var bases = Files.list(storeDir)) {
            baseEpoch = bases.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("base-"))
                    .mapToLong(n -> Long.parseLong(n.substring(5))).findFirst().orElseThrow();
        }
        try (var logs = Files.list(storeDir.resolve("log"))) {
            assertThat(logs.map(p -> p.getFileName().toString()).filter(n -> n.matches("epoch-\\d+\\.d"))
                    .mapToLong(n -> Long.parseLong(n.substring(6, n.length() - 2))).filter(e -> e <= baseEpoch).count())
                    .as("log files folded into base-%d deleted", baseEpoch).isZero();
        }
        assertNoXorInTheLog(storeDir);
        store.close();
        assertSameImage(open(storeDir), prev, "reopened at the end");
    }

    @Test
    void anXorOnAnyOtherBaseIsRejectedAndTheCommittedImageSurvives() throws Exception {
        Random rnd = new Random(23);
        FakeImage img = new FakeImage();
        img.evolve(rnd);
        Path storeDir = tmp.resolve("store");
        ImageStore store = open(storeDir);
        Path e1 = tmp.resolve("e1"), e2 = tmp.resolve("e2"), e3 = tmp.resolve("e3");
        img.write(e1);
        TreeMap<Long, byte[]> at1 = copy(img);
        List<byte[]> p1 = new ArrayList<>();
        commit(store, 1, 1, EpochBegin.FULL, p1, DeltaComputer.compute(null, e1, rec -> p1.add(rec.encode())));
        // epoch 2 changes every page a little
        for (var e : img.pages.entrySet()) e.getValue()[rnd.nextInt(PAGE)] ^= 1;
        img.write(e2);
        TreeMap<Long, byte[]> at2 = copy(img);
        List<EpochRecord> r2 = new ArrayList<>();
        DeltaComputer.Result d2 = DeltaComputer.compute(e1, e2, r2::add);
        int[] n = {0};
        commit(store, 1, 2, 1, xored(r2, at1, n), d2);
        assertThat(n[0]).isEqualTo(at1.size());
        assertSameImage(store, e2, "epoch 2");

        for (var e : img.pages.entrySet()) e.getValue()[rnd.nextInt(PAGE)] ^= 2;
        img.write(e3);
        List<EpochRecord> r3 = new ArrayList<>();
        DeltaComputer.Result d3 = DeltaComputer.compute(e2, e3, r3::add);
        // a stale base (epoch 1's pages, as a primary that lost track of an epoch would have), and one wrong page
        assertThatThrownBy(() -> commit(store, 1, 3, 2, xored(r3, at1, new int[1]), d3))
                .isInstanceOf(EpochRejectedException.class).hasMessageContaining("another base");
        TreeMap<Long, byte[]> oneWrong = copy2(at2);
        oneWrong.get(oneWrong.lastKey())[7] ^= 1;
        assertThatThrownBy(() -> commit(store, 1, 3, 2, xored(r3, oneWrong, new int[1]), d3))
                .isInstanceOf(EpochRejectedException.class).hasMessageContaining("another base");
        // a page the committed image does not have
        TreeMap<Long, byte[]> extra = copy2(at2);
        long absent = 0x100000L;
        extra.put(absent, new byte[PAGE]);
        List<EpochRecord> withAbsent = new ArrayList<>(r3);
        withAbsent.add(new EpochRecord.PageDelta("pagemap-100.img", new long[] {absent}, new byte[PAGE]));
        assertThatThrownBy(() -> commit(store, 1, 3, 2, xored(withAbsent, extra, new int[1]), d3))
                .isInstanceOf(EpochRejectedException.class).hasMessageContaining("no base");
        // and in a full epoch (which has no base)
        assertThatThrownBy(() -> commit(store, 1, 3, EpochBegin.FULL, xored(r3, at2, new int[1]), d3))
                .isInstanceOf(EpochRejectedException.class).hasMessageContaining("full epoch");

        assertThat(store.committedEpoch()).isEqualTo(2);
        assertSameImage(store, e2, "after the rejections");
        store.close();
        ImageStore reopened = open(storeDir);
        assertSameImage(reopened, e2, "reopened after the rejections");
        commit(reopened, 1, 3, 2, xored(r3, at2, new int[1]), d3); // the right base
        assertSameImage(reopened, e3, "epoch 3");
        reopened.close();
        assertSameImage(open(storeDir), e3, "epoch 3 reopened");
    }

    private static TreeMap<Long, byte[]> copy2(TreeMap<Long, byte[]> m) {
        TreeMap<Long, byte[]> c = new TreeMap<>();
        m.forEach((k, v) -> c.put(k, v.clone()));
        return c;
    }

    private static List<byte[]> encode(List<EpochRecord> recs) {
        List<byte[]> out = new ArrayList<>();
        for (EpochRecord r : recs) out.add(r.encode());
        return out;
    }

    /** Every committed log file holds records the store replays without a base: no PAGES_XOR. */
    private static void assertNoXorInTheLog(Path storeDir) throws IOException {
        try (Stream<Path> s = Files.list(storeDir.resolve("log"))) {
            for (Path f : (Iterable<Path>) s::iterator) {
                try (FileChannel in = FileChannel.open(f)) {
                    ByteBuffer all = ByteBuffer.allocate((int) in.size());
                    while (all.hasRemaining() && in.read(all) > 0) { }
                    all.flip();
                    while (all.hasRemaining()) {
                        int len = all.getInt();
                        assertThat(all.get(all.position())).as(f.toString()).isNotEqualTo((byte) EpochRecord.PAGES_XOR);
                        all.position(all.position() + len);
                    }
                }
            }
        }
    }

    static void commit(ImageStore store, long gen, long epoch, long base, List<byte[]> payloads, DeltaComputer.Result r)
            throws IOException {
        StoreEpochs.commit(store, gen, epoch, base, r.imageBytes(), payloads, r.manifest());
    }
}
