package io.checkpointd.bench;

import io.checkpointd.linux.ProcessMemory;
import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.proc.Vma;
import io.checkpointd.linux.track.PresentPages;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
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
            return adaptiveHcWire > 0 ? rawBytes / (double) adaptiveHcWire : Double.NaN;
        }

        double adaptiveRatio() {
            return adaptiveWire > 0 ? rawBytes / (double) adaptiveWire : Double.NaN;
        }

        double hcRatio() {
            return hcWire > 0 ? rawBytes / (double) hcWire : Double.NaN;
        }

        double plainRatio() {
            return plainWire > 0 ? rawBytes / (double) plainWire : Double.NaN;
        }

        double xorRatio() {
            return xorWire > 0 ? rawBytes / (double) xorWire : Double.NaN;
        }

        /** Share of the changed pages' bytes that did not change (zero after the XOR). */
        double unchangedByteShare() {
            return rawBytes > 0 ? xorZeroBytes / (double) rawBytes : Double.NaN;
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
        long scanned = 0, changed = 0, raw = 0, plain = 0, xor = 0, zero = 0, gaps = 0, adaptive = 0, adaptiveXor = 0, hc = 0, adHc = 0;
        byte[] plainRec = new byte[RECORD_PAGES * PAGE], xorRec = new byte[RECORD_PAGES * PAGE], adRec = new byte[RECORD_PAGES * PAGE];
        byte[] dst = new byte[LZ4.maxCompressedLength(plainRec.length)];
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
                    plain += LZ4.compress(plainRec, 0, n * PAGE, dst, 0, dst.length);
                    xor += LZ4.compress(xorRec, 0, n * PAGE, dst, 0, dst.length);
                    adaptive += LZ4.compress(adRec, 0, n * PAGE, dst, 0, dst.length);
                    hc += LZ4HC.compress(plainRec, 0, n * PAGE, dst, 0, dst.length);
                    adHc += LZ4HC.compress(adRec, 0, n * PAGE, dst, 0, dst.length);
                    raw += (long) n * PAGE;
                    n = 0;
                }
            }
            if (n > 0) {
                plain += LZ4.compress(plainRec, 0, n * PAGE, dst, 0, dst.length);
                xor += LZ4.compress(xorRec, 0, n * PAGE, dst, 0, dst.length);
                adaptive += LZ4.compress(adRec, 0, n * PAGE, dst, 0, dst.length);
                hc += LZ4HC.compress(plainRec, 0, n * PAGE, dst, 0, dst.length);
                adHc += LZ4HC.compress(adRec, 0, n * PAGE, dst, 0, dst.length);
                raw += (long) n * PAGE;
            }
            prev = now;
        }
        return new Result(e, scanned, changed, raw, plain, xor, zero, gaps / 1e6 / Math.max(1, e), adaptive, adaptiveXor, hc, adHc);
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
