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
    /** Pages shipped as XOR against the version the backup holds (Remus-style compression); see {@link PagesXor}. */
    int PAGES_XOR = 4;
    /** Data-directory kinds (docs/design/disk.md); see {@link DirRecord}. */
    int DIR_ROOT = 10, DIR_MKDIR = 11, DIR_CREATE = 12, DIR_SYMLINK = 13, DIR_RENAME = 14, DIR_DELETE = 15,
            DIR_RESIZE = 16, DIR_MODE = 17, DIR_BLOCKS = 18, DIR_OWNER = 19;
    /** Bound on the data of one {@link DirBlocks} record (the primary merges changed 4 KiB blocks into runs of this). */
    int MAX_DIR_BLOCKS = 1 << 20;
    /** Data directories per protected process ({@code protect --data-dir}, in order). */
    int MAX_DATA_DIRS = 64;
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

    /**
     * Pages of {@code pagemapName} shipped as XOR against their content in the epoch this one is based on (the
     * backup's committed image): {@code vaddrs[i]}'s new 4 KiB are {@code xors[i*4096…] ^ base}, where
     * {@link #baseHash(byte[], int) baseHash} of that base is {@code baseHashes[i]}. Mostly-unchanged pages XOR to
     * mostly zeros, which LZ4 squeezes far better than the pages themselves. The backup checks each base hash before
     * applying the XOR (a mismatch rejects the epoch: a page is never rebuilt on the wrong base) and logs the result
     * as a plain {@link PageDelta}. Never in a full epoch.
     */
    record PagesXor(String pagemapName, long[] vaddrs, long[] baseHashes, byte[] xors) implements EpochRecord {
        private static final net.jpountz.xxhash.XXHash64 XX = net.jpountz.xxhash.XXHashFactory.fastestInstance().hash64();
        private static final long SEED = 0x58_4F_52_42_41_53_45L; // "XORBASE"

        public PagesXor {
            if (vaddrs.length != baseHashes.length || xors.length != vaddrs.length * Pagemap.PAGE_SIZE) {
                throw new IllegalArgumentException("page count");
            }
        }

        /** The hash a base page is identified by: XXH64 of the 4 KiB at {@code off}. */
        public static long baseHash(byte[] page, int off) {
            return XX.hash(page, off, Pagemap.PAGE_SIZE, SEED);
        }

        @Override
        public byte[] encode() {
            Wire.Out out = new Wire.Out(xors.length + vaddrs.length * 16 + 64).u8(PAGES_XOR).str(pagemapName)
                    .i32(vaddrs.length);
            for (long v : vaddrs) out.i64(v);
            for (long h : baseHashes) out.i64(h);
            return out.raw(xors, 0, xors.length).toByteArray();
        }

        @Override
        public String toString() {
            return "PagesXor[" + pagemapName + " " + vaddrs.length + " pages]";
        }
    }

    /**
     * A change to data directory {@link #dir()} (the index of {@code protect --data-dir}, in order), about the entry
     * at {@link #path()}: relative to the directory, {@code /}-separated, no empty, {@code .} or {@code ..} part.
     * An epoch's records replayed in order on the directory as of the previous epoch give it as of this one.
     */
    sealed interface DirRecord extends EpochRecord {
        int dir();

        String path();
    }

    /**
     * Starts a full copy of data directory {@code dir}, which lives at {@code root} (absolute) on the primary: the
     * replica of that directory is emptied, and the records that follow fill it. {@code path()} is empty.
     */
    record DirRoot(int dir, String root) implements DirRecord {
        @Override
        public String path() {
            return "";
        }

        @Override
        public byte[] encode() {
            return new Wire.Out(16 + root.length()).u8(DIR_ROOT).u8(dir).str(root).toByteArray();
        }
    }

    /** A new directory with permission bits {@code mode}. */
    record DirMkdir(int dir, String path, int mode) implements DirRecord {
        @Override
        public byte[] encode() {
            return new Wire.Out(16 + path.length()).u8(DIR_MKDIR).u8(dir).str(path).i32(mode).toByteArray();
        }
    }

    /** A new empty regular file with permission bits {@code mode}; its size and data follow. */
    record DirCreate(int dir, String path, int mode) implements DirRecord {
        @Override
        public byte[] encode() {
            return new Wire.Out(16 + path.length()).u8(DIR_CREATE).u8(dir).str(path).i32(mode).toByteArray();
        }
    }

    /** A symbolic link to {@code target} (never followed by the backup), replacing a link already there. */
    record DirSymlink(int dir, String path, String target) implements DirRecord {
        @Override
        public byte[] encode() {
            return new Wire.Out(16 + path.length() + target.length()).u8(DIR_SYMLINK).u8(dir).str(path).str(target).toByteArray();
        }
    }

    /** The entry at {@code from} (with its subtree) moves to {@code path}, which is free. */
    record DirRename(int dir, String from, String path) implements DirRecord {
        @Override
        public byte[] encode() {
            return new Wire.Out(16 + from.length() + path.length()).u8(DIR_RENAME).u8(dir).str(from).str(path).toByteArray();
        }
    }

    /** The file, link or (by now empty) directory at {@code path} is gone. */
    record DirDelete(int dir, String path) implements DirRecord {
        @Override
        public byte[] encode() {
            return new Wire.Out(16 + path.length()).u8(DIR_DELETE).u8(dir).str(path).toByteArray();
        }
    }

    /** The regular file's new size: a truncation cuts, an extension adds a hole. */
    record DirResize(int dir, String path, long size) implements DirRecord {
        @Override
        public byte[] encode() {
            return new Wire.Out(24 + path.length()).u8(DIR_RESIZE).u8(dir).str(path).i64(size).toByteArray();
        }
    }

    /** New permission bits (setuid, setgid and sticky included). */
    record DirMode(int dir, String path, int mode) implements DirRecord {
        @Override
        public byte[] encode() {
            return new Wire.Out(16 + path.length()).u8(DIR_MODE).u8(dir).str(path).i32(mode).toByteArray();
        }
    }

    /** New owner (of a link itself, not its target): a service running as its own user keeps its files'. */
    record DirOwner(int dir, String path, int uid, int gid) implements DirRecord {
        @Override
        public byte[] encode() {
            return new Wire.Out(20 + path.length()).u8(DIR_OWNER).u8(dir).str(path).i32(uid).i32(gid).toByteArray();
        }
    }

    /** Bytes {@code [offset, offset+data.length)} of the regular file, inside its size: a run of changed blocks. */
    record DirBlocks(int dir, String path, long offset, byte[] data) implements DirRecord {
        @Override
        public byte[] encode() {
            return new Wire.Out(data.length + 32 + path.length()).u8(DIR_BLOCKS).u8(dir).str(path).i64(offset)
                    .bytes(data, 0, data.length).toByteArray();
        }

        @Override
        public String toString() {
            return "DirBlocks[" + dir + ":" + path + " @" + offset + " +" + data.length + "]";
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
            case PAGES_XOR -> {
                String name = Wire.checkName(in.str());
                int n = in.i32();
                if (n < 1 || n > MAX_PAGES) throw new ProtocolException("bad xor page count " + n);
                long[] vaddrs = new long[n];
                for (int i = 0; i < n; i++) {
                    vaddrs[i] = in.i64();
                    if ((vaddrs[i] & (Pagemap.PAGE_SIZE - 1)) != 0) throw new ProtocolException("unaligned page address");
                }
                long[] hashes = new long[n];
                for (int i = 0; i < n; i++) hashes[i] = in.i64();
                if (in.remaining() != n * Pagemap.PAGE_SIZE) throw new ProtocolException("xor page data length mismatch");
                yield new PagesXor(name, vaddrs, hashes, in.fixed(n * Pagemap.PAGE_SIZE));
            }
            case DIR_ROOT -> new DirRoot(dir(in), Wire.checkRoot(in.str()));
            case DIR_MKDIR -> new DirMkdir(dir(in), Wire.checkRelPath(in.str()), mode(in));
            case DIR_CREATE -> new DirCreate(dir(in), Wire.checkRelPath(in.str()), mode(in));
            case DIR_SYMLINK -> {
                int d = dir(in);
                String path = Wire.checkRelPath(in.str()), target = in.str();
                if (target.isEmpty() || target.indexOf('\0') >= 0) throw new ProtocolException("bad symlink target");
                yield new DirSymlink(d, path, target);
            }
            case DIR_RENAME -> {
                int d = dir(in);
                String from = Wire.checkRelPath(in.str()), to = Wire.checkRelPath(in.str());
                if (to.equals(from) || to.startsWith(from + "/")) throw new ProtocolException("rename into itself");
                yield new DirRename(d, from, to);
            }
            case DIR_DELETE -> new DirDelete(dir(in), Wire.checkRelPath(in.str()));
            case DIR_RESIZE -> {
                int d = dir(in);
                String path = Wire.checkRelPath(in.str());
                long size = in.i64();
                if (size < 0) throw new ProtocolException("negative file size");
                yield new DirResize(d, path, size);
            }
            case DIR_MODE -> new DirMode(dir(in), Wire.checkRelPath(in.str()), mode(in));
            case DIR_OWNER -> {
                int d = dir(in);
                String path = Wire.checkRelPath(in.str());
                int uid = in.i32(), gid = in.i32();
                if (uid < 0 || gid < 0) throw new ProtocolException("bad owner " + uid + ":" + gid); // -1 means "unchanged" to chown
                yield new DirOwner(d, path, uid, gid);
            }
            case DIR_BLOCKS -> {
                int d = dir(in);
                String path = Wire.checkRelPath(in.str());
                long offset = in.i64();
                byte[] data = in.bytes(MAX_DIR_BLOCKS);
                if (offset < 0 || offset > Long.MAX_VALUE - data.length) throw new ProtocolException("bad block offset");
                yield new DirBlocks(d, path, offset, data);
            }
            default -> throw new ProtocolException("unknown epoch record kind " + kind);
        };
        in.end();
        return r;
    }

    private static int dir(Wire.In in) throws ProtocolException {
        int d = in.u8();
        if (d >= MAX_DATA_DIRS) throw new ProtocolException("data dir index " + d + " out of range");
        return d;
    }

    private static int mode(Wire.In in) throws ProtocolException {
        int m = in.i32();
        if ((m & ~07777) != 0) throw new ProtocolException("bad mode " + Integer.toOctalString(m));
        return m;
    }
}
