package io.checkpointd.bench;

import io.checkpointd.linux.ProcessMemory;
import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.proc.Vma;
import io.checkpointd.linux.track.PresentPages;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;

/**
 * Offline look at Remus's XOR-before-compression for the checkpoint stream: every {@code period} it copies the
 * service's writable private pages ({@code process_vm_readv}, not frozen: a page may be torn, which matters for
 * statistics only), takes the pages whose bytes changed since the previous copy (what the incremental engine ships
 * for them: written and hash-changed), and compresses them in records of {@code 1024} pages with the stream's own
 * LZ4 (fast compressor, one record per frame) twice: as they are, and XORed with the page's previous version (what
 * the backup has committed; Remus kept a cache of recently shipped pages for this). Pages with no previous version
 * go as they are in both. Two more variants for comparison: per page, XOR only when at least
 * {@link #ADAPTIVE_MIN_UNCHANGED} of its bytes are unchanged (else as it is), and LZ4's high-compression mode on the
 * pages as they are. Nothing here is in the protocol.
 */
final class XorProbe {
    private static final int PAGE = 4096;
    private static final int RECORD_PAGES = 1024;
    private static final LZ4Compressor LZ4 = LZ4Factory.fastestInstance().fastCompressor();
    private static final LZ4Compressor LZ4HC = LZ4Factory.fastestInstance().highCompressor();
    /** Adaptive variant: a page goes XORed when at least this share of its bytes did not change. */
    static final double ADAPTIVE_MIN_UNCHANGED = 0.75;

    /** Totals over the probed epochs. */
    record Result(int epochs, long pagesScanned, long changedPages, long rawBytes, long plainWire, long xorWire,
                  long xorZeroBytes, double meanGapMs, long adaptiveWire, long adaptiveXorPages, long hcWire, long adaptiveHcWire) {
        double adaptiveHcRatio() {
            return share(rawBytes, adaptiveHcWire);
        }

        double adaptiveRatio() {
            return share(rawBytes, adaptiveWire);
        }

        double hcRatio() {
            return share(rawBytes, hcWire);
        }

        double plainRatio() {
            return share(rawBytes, plainWire);
        }

        double xorRatio() {
            return share(rawBytes, xorWire);
        }

        /** Share of the changed pages' bytes that did not change (zero after the XOR). */
        double unchangedByteShare() {
            return share(xorZeroBytes, rawBytes);
        }

        /** {@code a / b}, NaN when there is no {@code b}. */
        private static double share(long a, long b) {
            return b > 0 ? a / (double) b : Double.NaN;
        }
    }

    private XorProbe() {
    }

    /** Stops early after this long (a loaded machine makes each copy slow): the benchmark run stays bounded. */
    static final long MAX_NANOS = 20_000_000_000L;

    static Result run(int pid, int epochs, long periodMs) throws IOException, InterruptedException {
        long started = System.nanoTime();
        ByteBuffer[] bufs = {null, null}; // two copies, reused: direct memory is not freed until a GC
        Snapshot prev = Snapshot.take(pid, bufs, 0);
        long scanned = 0, changed = 0, zero = 0, gaps = 0, adaptiveXor = 0;
        Records rec = new Records();
        byte[] plainRec = rec.plain, xorRec = rec.xor, adRec = rec.adaptive;
        byte[] cur = new byte[PAGE], old = new byte[PAGE];
        long last = System.nanoTime();
        int e = 0;
        for (; e < epochs && (e < 2 || System.nanoTime() - started < MAX_NANOS); e++) {
            Thread.sleep(periodMs);
            Snapshot now = Snapshot.take(pid, bufs, (e + 1) % 2);
            long t = System.nanoTime();
            gaps += t - last; // between the ends of consecutive copies: what one delta spans
            last = t;
            scanned += now.vaddrs.length;
            int n = 0;
            int j0 = 0;
            for (int i = 0; i < now.vaddrs.length; i++) {
                while (j0 < prev.vaddrs.length && prev.vaddrs[j0] < now.vaddrs[i]) j0++;
                int j = j0 < prev.vaddrs.length && prev.vaddrs[j0] == now.vaddrs[i] ? j0 : -1;
                if (j >= 0 && now.data.slice(i * PAGE, PAGE).mismatch(prev.data.slice(j * PAGE, PAGE)) < 0) continue;
                now.page(i, cur);
                if (j >= 0) prev.page(j, old);
                System.arraycopy(cur, 0, plainRec, n * PAGE, PAGE);
                int same = 0;
                for (int b = 0; b < PAGE; b++) {
                    byte x = j >= 0 ? (byte) (cur[b] ^ old[b]) : cur[b];
                    xorRec[n * PAGE + b] = x;
                    if (j >= 0 && x == 0) same++;
                }
                zero += same;
                boolean useXor = same >= ADAPTIVE_MIN_UNCHANGED * PAGE;
                if (useXor) adaptiveXor++;
                System.arraycopy(useXor ? xorRec : plainRec, n * PAGE, adRec, n * PAGE, PAGE);
                n++;
                changed++;
                if (n == RECORD_PAGES) {
                    rec.compress(n);
                    n = 0;
                }
            }
            rec.compress(n);
            prev = now;
        }
        return new Result(e, scanned, changed, rec.raw, rec.plainWire, rec.xorWire, zero, gaps / 1e6 / Math.max(1, e),
                rec.adaptiveWire, adaptiveXor, rec.hcWire, rec.adaptiveHcWire);
    }

    /** One record's pages three ways (as they are, XORed, per page either), and the compressed totals of all records. */
    private static final class Records {
        final byte[] plain = new byte[RECORD_PAGES * PAGE], xor = new byte[RECORD_PAGES * PAGE], adaptive = new byte[RECORD_PAGES * PAGE];
        private final byte[] dst = new byte[LZ4.maxCompressedLength(plain.length)];
        long raw, plainWire, xorWire, adaptiveWire, hcWire, adaptiveHcWire;

        /** Compresses the first {@code n} pages of each variant as one record (nothing for {@code n == 0}). */
        void compress(int n) {
            if (n == 0) return;
            int len = n * PAGE;
            plainWire += LZ4.compress(plain, 0, len, dst, 0, dst.length);
            xorWire += LZ4.compress(xor, 0, len, dst, 0, dst.length);
            adaptiveWire += LZ4.compress(adaptive, 0, len, dst, 0, dst.length);
            hcWire += LZ4HC.compress(plain, 0, len, dst, 0, dst.length);
            adaptiveHcWire += LZ4HC.compress(adaptive, 0, len, dst, 0, dst.length);
            raw += len;
        }
    }

    /** The writable private present pages of a process, by address. */
    private static final class Snapshot {
        final long[] vaddrs;
        final ByteBuffer data;

        private Snapshot(long[] vaddrs, ByteBuffer data) {
            this.vaddrs = vaddrs;
            this.data = data;
        }

        static Snapshot take(int pid, ByteBuffer[] bufs, int which) throws IOException {
            List<Vma> maps = ProcFs.maps(pid);
            List<ProcessMemory.RemoteRange> ranges = PresentPages.of(pid, maps, v -> v.isWritable() && v.isPrivate() && v.isReadable());
            long total = ProcessMemory.totalLength(ranges);
            if (total > (512L << 20)) throw new IOException("probe: " + total + " bytes of writable memory: too much to copy");
            ByteBuffer buf = bufs[which];
            if (buf == null || buf.capacity() < total) buf = bufs[which] = ByteBuffer.allocateDirect((int) (total + total / 2));
            buf.clear();
            ProcessMemory.read(pid, ranges, buf);
            buf.flip();
            long[] v = new long[(int) (total / PAGE)];
            int k = 0;
            for (ProcessMemory.RemoteRange r : ranges) for (long a = r.address(); a < r.address() + r.length(); a += PAGE) v[k++] = a;
            return new Snapshot(v, buf);
        }

        void page(int i, byte[] to) {
            data.get(i * PAGE, to, 0, PAGE);
        }
    }
}
