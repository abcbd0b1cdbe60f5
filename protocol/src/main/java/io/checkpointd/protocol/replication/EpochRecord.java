package io.checkpointd.protocol.replication;

import io.checkpointd.protocol.FrameCodec;
import io.checkpointd.protocol.ProtocolException;
import io.checkpointd.protocol.image.Pagemap;

/**
 * One piece of an epoch's delta: the payload of an EPOCH_DATA frame, and also the unit the backup's store logs.
 * Page data of {@code pages-*.img} is never shipped as a file: it is rebuilt from the pagemap and the pages that
 * changed ({@link PageDelta}), each page keyed by its virtual address.
 */
public sealed interface EpochRecord {
    int FILE = 1, DELETE = 2, PAGES = 3;
    /** Bound on the pages of one record, so a record stays well under {@link FrameCodec#MAX_PAYLOAD}. */
    int MAX_PAGES = 1024;

    byte[] encode();

    /** A slice {@code [offset, offset+data.length)} of a whole image file of {@code totalSize} bytes. */
    record FileChunk(String name, long totalSize, long offset, byte[] data) implements EpochRecord {
        @Override
        public byte[] encode() {
            return new Wire.Out(data.length + 64).u8(FILE).str(name).i64(totalSize).i64(offset)
                    .bytes(data, 0, data.length).toByteArray();
        }
    }

    /** The file no longer exists in this epoch's image. */
    record FileDelete(String name) implements EpochRecord {
        @Override
        public byte[] encode() {
            return new Wire.Out(32).u8(DELETE).str(name).toByteArray();
        }
    }

    /**
     * Pages of the memory described by {@code pagemapName} that differ from the base epoch: {@code vaddrs[i]}'s
     * 4 KiB are at {@code pages[i*4096]}. Present pages not listed are unchanged since the base epoch.
     */
    record PageDelta(String pagemapName, long[] vaddrs, byte[] pages) implements EpochRecord {
        public PageDelta {
            if (pages.length != vaddrs.length * Pagemap.PAGE_SIZE) throw new IllegalArgumentException("page count");
        }

        @Override
        public byte[] encode() {
            Wire.Out out = new Wire.Out(pages.length + vaddrs.length * 8 + 64).u8(PAGES).str(pagemapName)
                    .i32(vaddrs.length);
            for (long v : vaddrs) out.i64(v);
            return out.raw(pages, 0, pages.length).toByteArray();
        }
    }

    /** Decodes an EPOCH_DATA payload; anything malformed is a {@link ProtocolException}. */
    static EpochRecord decode(byte[] p) throws ProtocolException {
        Wire.In in = new Wire.In(p);
        int kind = in.u8();
        EpochRecord r = switch (kind) {
            case FILE -> {
                String name = Wire.checkName(in.str());
                long total = in.i64(), offset = in.i64();
                byte[] data = in.bytes(FrameCodec.MAX_PAYLOAD);
                if (total < 0 || offset < 0 || offset + data.length > total) throw new ProtocolException("bad file chunk range");
                yield new FileChunk(name, total, offset, data);
            }
            case DELETE -> new FileDelete(Wire.checkName(in.str()));
            case PAGES -> {
                String name = Wire.checkName(in.str());
                int n = in.i32();
                if (n < 0 || n > MAX_PAGES) throw new ProtocolException("bad page count " + n);
                long[] vaddrs = new long[n];
                for (int i = 0; i < n; i++) {
                    vaddrs[i] = in.i64();
                    if ((vaddrs[i] & (Pagemap.PAGE_SIZE - 1)) != 0) throw new ProtocolException("unaligned page address");
                }
                if (in.remaining() != n * Pagemap.PAGE_SIZE) throw new ProtocolException("page data length mismatch");
                yield new PageDelta(name, vaddrs, in.fixed(n * Pagemap.PAGE_SIZE));
            }
            default -> throw new ProtocolException("unknown epoch record kind " + kind);
        };
        in.end();
        return r;
    }
}
