package io.checkpointd.primary.engine;

import java.nio.ByteBuffer;
import io.checkpointd.linux.ProcessMemory.RemoteRange;
import io.checkpointd.linux.proc.Vma;
import java.util.ArrayList;
import java.util.List;

/**
 * Sorted, disjoint, page-aligned address ranges as a flat {@code long[]} of {@code start, end} pairs: the present
 * pages of an epoch and the pages to copy are kept this way, so comparing epochs costs the number of ranges, not of
 * pages.
 */
final class Ranges {
    static final long[] EMPTY = new long[0];
    private static final long PAGE = io.checkpointd.protocol.image.Pagemap.PAGE_SIZE;

    private Ranges() {
    }

    /** Sorted, merged ranges of {@code rs} (in any order, overlapping or not). */
    static long[] of(List<RemoteRange> rs) {
        for (int i = 1; i < rs.size(); i++) {
            if (rs.get(i).address() < rs.get(i - 1).address()) {
                rs = new ArrayList<>(rs);
                rs.sort(java.util.Comparator.comparingLong(RemoteRange::address));
                break;
            }
        }
        long[] out = new long[rs.size() * 2];
        int n = 0;
        for (RemoteRange r : rs) {
            long s = r.address(), e = r.address() + r.length();
            if (s >= e) continue;
            if (n > 0 && s <= out[n - 1]) {
                out[n - 1] = Math.max(out[n - 1], e);
            } else {
                out[n++] = s;
                out[n++] = e;
            }
        }
        return n == out.length ? out : java.util.Arrays.copyOf(out, n);
    }

    static long pages(long[] r) {
        long n = 0;
        for (int i = 0; i < r.length; i += 2) n += (r[i + 1] - r[i]) >>> 12;
        return n;
    }

    static long bytes(long[] r) {
        return pages(r) << 12;
    }

    /** Whether {@code r} (sorted, disjoint) has an address in {@code [start, end)}. */
    static boolean overlaps(long[] r, long start, long end) {
        int lo = 0, hi = r.length / 2; // first range ending after start
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (r[2 * mid + 1] <= start) lo = mid + 1;
            else hi = mid;
        }
        return lo < r.length / 2 && r[2 * lo] < end;
    }

    /** {@code a ∪ b}. */
    static long[] union(long[] a, long[] b) {
        long[] out = new long[a.length + b.length];
        int i = 0, j = 0, n = 0;
        while (i < a.length || j < b.length) {
            long s, e;
            if (j >= b.length || (i < a.length && a[i] <= b[j])) {
                s = a[i];
                e = a[i + 1];
                i += 2;
            } else {
                s = b[j];
                e = b[j + 1];
                j += 2;
            }
            if (n > 0 && s <= out[n - 1]) {
                out[n - 1] = Math.max(out[n - 1], e);
            } else {
                out[n++] = s;
                out[n++] = e;
            }
        }
        return java.util.Arrays.copyOf(out, n);
    }

    /** {@code r} with every gap shorter than {@code gap} bytes filled: fewer, larger ranges covering at least {@code r}. */
    static long[] bridge(long[] r, long gap) {
        if (r.length <= 2) return r;
        long[] out = new long[r.length];
        int n = 0;
        for (int i = 0; i < r.length; i += 2) {
            if (n > 0 && r[i] - out[n - 1] < gap) {
                out[n - 1] = r[i + 1];
            } else {
                out[n++] = r[i];
                out[n++] = r[i + 1];
            }
        }
        return n == out.length ? out : java.util.Arrays.copyOf(out, n);
    }

    /** {@code a ∩ b}. */
    static long[] intersect(long[] a, long[] b) {
        long[] out = new long[a.length + b.length];
        int i = 0, j = 0, n = 0;
        while (i < a.length && j < b.length) {
            long s = Math.max(a[i], b[j]), e = Math.min(a[i + 1], b[j + 1]);
            if (s < e) {
                out[n++] = s;
                out[n++] = e;
            }
            if (a[i + 1] < b[j + 1]) i += 2;
            else j += 2;
        }
        return java.util.Arrays.copyOf(out, n);
    }

    /** {@code a \ b}. */
    static long[] subtract(long[] a, long[] b) {
        List<Long> out = new ArrayList<>();
        int j = 0;
        for (int i = 0; i < a.length; i += 2) {
            long s = a[i], e = a[i + 1];
            while (j < b.length && b[j + 1] <= s) j += 2;
            int k = j;
            while (s < e && k < b.length && b[k] < e) {
                if (b[k] > s) {
                    out.add(s);
                    out.add(b[k]);
                }
                s = Math.max(s, b[k + 1]);
                k += 2;
            }
            if (s < e) {
                out.add(s);
                out.add(e);
            }
        }
        long[] r = new long[out.size()];
        for (int i = 0; i < r.length; i++) r[i] = out.get(i);
        return r;
    }

    /** The ranges, cut at every VMA boundary (CRIU's pagemap never lets a run cross two VMAs). */
    static long[] splitAt(long[] r, List<Vma> maps) {
        List<Long> out = new ArrayList<>(r.length + 16);
        int v = 0;
        for (int i = 0; i < r.length; i += 2) {
            long s = r[i], e = r[i + 1];
            while (s < e) {
                while (v < maps.size() && maps.get(v).end() <= s) v++;
                long cut = e;
                if (v < maps.size()) {
                    Vma m = maps.get(v);
                    if (m.start() > s) cut = Math.min(e, m.start());
                    else cut = Math.min(e, m.end());
                }
                out.add(s);
                out.add(cut);
                s = cut;
            }
        }
        long[] res = new long[out.size()];
        for (int i = 0; i < res.length; i++) res[i] = out.get(i);
        return res;
    }

    static List<RemoteRange> toRemote(long[] r) {
        List<RemoteRange> out = new ArrayList<>(r.length / 2);
        for (int i = 0; i < r.length; i += 2) out.add(new RemoteRange(r[i], r[i + 1] - r[i]));
        return out;
    }

    /** Ranges of the VMAs selected by {@code which}, merged ([vsyscall], above the user address space, never). */
    static long[] ofVmas(List<Vma> maps, java.util.function.Predicate<Vma> which) {
        List<RemoteRange> rs = new ArrayList<>();
        for (Vma v : maps) if (v.start() >= 0 && which.test(v)) rs.add(new RemoteRange(v.start(), v.length()));
        return of(rs);
    }

    /**
     * The pages of {@code copy} in order, each taken from {@code b} (pages of {@code inB}, laid out in that order) if
     * it is there, else from {@code a} (pages of {@code inA}): every page of {@code copy} must be in one of them.
     * Into {@code dst} (replaced by a larger one as needed), flipped.
     */
    static ByteBuffer gather(long[] copy, long[] inA, ByteBuffer a, long[] inB, ByteBuffer b, ByteBuffer dst) {
        long bytes = bytes(copy);
        ByteBuffer out = dst.capacity() >= bytes ? dst : ByteBuffer.allocateDirect((int) Math.max(bytes, dst.capacity() * 2L));
        out.clear();
        int ia = 0, ib = 0;
        long offA = 0, offB = 0; // byte offset in a / b of the start of range ia / ib
        for (int i = 0; i < copy.length; i += 2) {
            for (long v = copy[i]; v < copy[i + 1]; v += PAGE) {
                while (ib < inB.length && inB[ib + 1] <= v) {
                    offB += inB[ib + 1] - inB[ib];
                    ib += 2;
                }
                ByteBuffer src;
                long at;
                if (ib < inB.length && inB[ib] <= v) {
                    src = b;
                    at = offB + (v - inB[ib]);
                } else {
                    while (ia < inA.length && inA[ia + 1] <= v) {
                        offA += inA[ia + 1] - inA[ia];
                        ia += 2;
                    }
                    if (ia >= inA.length || inA[ia] > v) throw new IllegalStateException("page 0x" + Long.toHexString(v) + " copied neither before nor at the stop");
                    src = a;
                    at = offA + (v - inA[ia]);
                }
                out.put(out.position(), src, (int) at, (int) PAGE);
                out.position(out.position() + (int) PAGE);
            }
        }
        out.flip();
        return out;
    }
}
