package io.checkpointd.restore.store;

import io.checkpointd.protocol.replication.EpochRecord;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;

/** Rebuilds the pages of a {@code PAGES_XOR} record on the committed image (Remus's XOR compression, undone). */
final class XorPages {
    private XorPages() {
    }

    /**
     * The pages of {@code x} rebuilt on {@code plan}, the committed image. That image is the one epoch {@code epoch}
     * applies to: a delta epoch is begun only on the committed epoch, epochs are received one at a time on the
     * store thread, and nothing but the epoch's own commit replaces the plan's content (a compaction swaps in the
     * same pages at new places, under the store lock the caller holds).
     *
     * @throws EpochRejectedException if a page has no base, or its base is not the one the primary XORed against
     */
    static EpochRecord.PageDelta resolve(ImagePlan plan, EpochRecord.PagesXor x, long epoch) throws IOException {
        int page = io.checkpointd.protocol.image.Pagemap.PAGE_SIZE;
        byte[] pages = new byte[x.xors().length];
        PageTable table = plan.pages.get(x.pagemapName());
        if (table == null) throw new EpochRejectedException("epoch " + epoch + ": xor pages of " + x.pagemapName() + ", which the committed image lacks");
        Map<Path, FileChannel> files = new HashMap<>();
        try {
            for (int i = 0; i < x.vaddrs().length; i++) {
                long v = x.vaddrs()[i];
                ImagePlan.PageRef ref = table.get(v);
                if (ref == null) {
                    throw new EpochRejectedException("epoch " + epoch + ": xor page 0x" + Long.toHexString(v) + " of "
                            + x.pagemapName() + " has no base in the committed image");
                }
                FileChannel in = files.get(ref.file());
                if (in == null) files.put(ref.file(), in = FileChannel.open(ref.file(), StandardOpenOption.READ));
                ByteBuffer dst = ByteBuffer.wrap(pages, i * page, page);
                while (dst.hasRemaining()) {
                    if (in.read(dst, ref.offset() + dst.position() - i * page) < 0) throw new IOException("short page in " + ref.file());
                }
                if (EpochRecord.PagesXor.baseHash(pages, i * page) != x.baseHashes()[i]) {
                    throw new EpochRejectedException("epoch " + epoch + ": xor page 0x" + Long.toHexString(v) + " of "
                            + x.pagemapName() + " was computed on another base than the committed image's");
                }
            }
        } finally {
            for (FileChannel c : files.values()) c.close();
        }
        byte[] xors = x.xors();
        for (int i = 0; i < pages.length; i++) pages[i] ^= xors[i];
        return new EpochRecord.PageDelta(x.pagemapName(), x.vaddrs(), pages);
    }
}
