package io.checkpointd.linux.track;

import io.checkpointd.linux.ProcessMemory.RemoteRange;
import io.checkpointd.linux.proc.Vma;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * Address range arithmetic, in two forms. Public: sorted, disjoint, page-aligned ranges as a flat {@code long[]} of
 * {@code start, end} pairs, in which the capture engine keeps an epoch's present pages and the pages to copy (comparing
 * epochs costs the number of ranges, not of pages). Also the trackers' helpers over {@code start -> end} maps (public
 * for the benchmark harnesses that keep their own tracked set) and, package-private, over {@link RemoteRange} lists.
 */
public final class Ranges {
    /** The page size every range is aligned to. */
    public static final long PAGE = 4096;
    /** No ranges. */
    public static final long[] EMPTY = new long[0];

    private Ranges() {
    }

    /**
     * {@code false}: trackers watch writable VMAs only, as before read-only anonymous ones were added (which misses the
     * bytes of one mapped again over itself, see {@link #trackable}); the read-only benchmark's baseline only.
     */
    public static final String READ_ONLY_ANONYMOUS_KEY = "checkpointd.track.readOnlyAnonymous";
    private static final boolean READ_ONLY_ANONYMOUS = !"false".equals(System.getProperty(READ_ONLY_ANONYMOUS_KEY));

    /** Kernel special mappings neither tracked nor dumped (CRIU skips them too). */
    static boolean isSpecial(Vma v) {
        return v.isSpecial() || v.path().equals("[uprobes]");
    }

    /**
     * What a tracker must watch: private non-special VMAs that are writable, or anonymous and readable. A read-only
     * anonymous page can hold bytes written since the last collect under a maps line that did not change: mapped
     * again at its own address (munmap + mmap, {@code MAP_FIXED}), written, made read-only, all between two stops.
     * Only a tracker watching it sees that (uffd-wp: the new VMA lacks the registration; scan: the hash; soft-dirty:
     * a new VMA is soft-dirty). {@code PROT_NONE} ones stay out: the JVM reserves gigabytes of them, which uffd-wp
     * would fill with page tables of markers.
     */
    static boolean trackable(Vma v) {
        return v.isPrivate() && !isSpecial(v)
                && (v.isWritable() || (READ_ONLY_ANONYMOUS && v.isReadable() && v.inode() == 0 && v.path().isEmpty()));
    }

    /** Adjacent VMAs matching {@code which}, merged into disjoint {@code [start, end)} intervals, in order. */
    static List<long[]> merged(List<Vma> maps, Predicate<Vma> which) {
        List<long[]> out = new ArrayList<>();
        for (Vma v : maps) {
            if (!which.test(v)) continue;
            long[] last = out.isEmpty() ? null : out.get(out.size() - 1);
            if (last != null && last[1] == v.start()) last[1] = v.end();
            else out.add(new long[] {v.start(), v.end()});
        }
        return out;
    }

    /**
     * Keeps of {@code tracked} only what still lies in a private (non-special) mapping: unmapped parts drop out,
     * parts made read-only stay (their pre-mprotect writes are reported there only).
     */
    public static void dropUnmapped(TreeMap<Long, Long> tracked, List<Vma> maps) {
        TreeMap<Long, Long> keep = new TreeMap<>();
        List<long[]> priv = merged(maps, v -> v.isPrivate() && !isSpecial(v));
        for (Map.Entry<Long, Long> t : tracked.entrySet()) {
            for (long[] p : priv) {
                if (p[0] >= t.getValue()) break;
                long s = Math.max(t.getKey(), p[0]), e = Math.min(t.getValue(), p[1]);
                if (s < e) keep.put(s, e);
            }
        }
        tracked.clear();
        tracked.putAll(keep);
    }

    /** The parts of trackable VMAs not covered by {@code tracked}, in order. */
    public static List<long[]> uncovered(TreeMap<Long, Long> tracked, List<Vma> maps) {
        List<long[]> out = new ArrayList<>();
        for (long[] w : merged(maps, Ranges::trackable)) {
            long pos = w[0];
            Map.Entry<Long, Long> before = tracked.floorEntry(pos);
            if (before != null && before.getValue() > pos) pos = before.getValue();
            while (pos < w[1]) {
                Long nextStart = tracked.ceilingKey(pos);
                long end = nextStart == null ? w[1] : Math.min(w[1], nextStart);
                if (pos < end) out.add(new long[] {pos, end});
                if (nextStart == null || nextStart >= w[1]) break;
                pos = Math.max(pos, tracked.get(nextStart));
            }
        }
        return out;
    }

    /** Merges touching intervals of {@code m} in place (fewer scan calls). */
    public static void coalesce(TreeMap<Long, Long> m) {
        TreeMap<Long, Long> c = new TreeMap<>();
        long cs = -1, ce = -1;
        for (Map.Entry<Long, Long> e : m.entrySet()) {
            if (e.getKey() == ce) {
                ce = e.getValue();
            } else {
                if (cs >= 0) c.put(cs, ce);
                cs = e.getKey();
                ce = e.getValue();
            }
        }
        if (cs >= 0) c.put(cs, ce);
        m.clear();
        m.putAll(c);
    }

    /** Sorts by address and merges overlapping or touching ranges. */
    static List<RemoteRange> sortMerge(List<RemoteRange> in) {
        if (in.size() <= 1) return in;
        List<RemoteRange> s = new ArrayList<>(in);
        s.sort(Comparator.comparingLong(RemoteRange::address));
        List<RemoteRange> out = new ArrayList<>(s.size());
        long cs = s.get(0).address(), ce = cs + s.get(0).length();
        for (int i = 1; i < s.size(); i++) {
            RemoteRange r = s.get(i);
            if (r.address() <= ce) {
                ce = Math.max(ce, r.address() + r.length());
            } else {
                out.add(new RemoteRange(cs, ce - cs));
                cs = r.address();
                ce = cs + r.length();
            }
        }
        out.add(new RemoteRange(cs, ce - cs));
        return out;
    }

    /** Appends {@code [start, end)} to {@code out}, extending the last range if they touch (input in order). */
    static void append(List<RemoteRange> out, long start, long end) {
        if (start >= end) return;
        int n = out.size();
        if (n > 0) {
            RemoteRange last = out.get(n - 1);
            if (last.address() + last.length() == start) {
                out.set(n - 1, new RemoteRange(last.address(), end - last.address()));
                return;
            }
        }
        out.add(new RemoteRange(start, end - start));
    }

    static long total(List<RemoteRange> rs) {
        long n = 0;
        for (RemoteRange r : rs) n += r.length();
        return n;
    }

    /** Sorted, merged ranges of {@code rs} (in any order, overlapping or not). */
    public static long[] of(List<RemoteRange> rs) {
        for (int i = 1; i < rs.size(); i++) {
            if (rs.get(i).address() < rs.get(i - 1).address()) {
                rs = new ArrayList<>(rs);
                rs.sort(Comparator.comparingLong(RemoteRange::address));
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
        return n == out.length ? out : Arrays.copyOf(out, n);
    }

    /** How many pages {@code r} covers. */
    public static long pages(long[] r) {
        long n = 0;
        for (int i = 0; i < r.length; i += 2) n += (r[i + 1] - r[i]) >>> 12;
        return n;
    }

    /** How many bytes {@code r} covers. */
    public static long bytes(long[] r) {
        return pages(r) << 12;
    }

    /** Whether {@code r} (sorted, disjoint) has an address in {@code [start, end)}. */
    public static boolean overlaps(long[] r, long start, long end) {
        int lo = 0, hi = r.length / 2; // first range ending after start
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (r[2 * mid + 1] <= start) lo = mid + 1;
            else hi = mid;
        }
        return lo < r.length / 2 && r[2 * lo] < end;
    }

    /** {@code a ∪ b}. */
    public static long[] union(long[] a, long[] b) {
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
        return Arrays.copyOf(out, n);
    }

    /** {@code r} with every gap shorter than {@code gap} bytes filled: fewer, larger ranges covering at least {@code r}. */
    public static long[] bridge(long[] r, long gap) {
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
        return n == out.length ? out : Arrays.copyOf(out, n);
    }

    /** {@code a ∩ b}. */
    public static long[] intersect(long[] a, long[] b) {
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
        return Arrays.copyOf(out, n);
    }

    /** {@code a \ b}. */
    public static long[] subtract(long[] a, long[] b) {
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
    public static long[] splitAt(long[] r, List<Vma> maps) {
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

    /** {@code r} as one {@link RemoteRange} per range. */
    public static List<RemoteRange> toRemote(long[] r) {
        List<RemoteRange> out = new ArrayList<>(r.length / 2);
        for (int i = 0; i < r.length; i += 2) out.add(new RemoteRange(r[i], r[i + 1] - r[i]));
        return out;
    }

    /** Ranges of the VMAs selected by {@code which}, merged ([vsyscall], above the user address space, never). */
    public static long[] ofVmas(List<Vma> maps, Predicate<Vma> which) {
        List<RemoteRange> rs = new ArrayList<>();
        for (Vma v : maps) if (v.start() >= 0 && which.test(v)) rs.add(new RemoteRange(v.start(), v.length()));
        return of(rs);
    }

    /**
     * The pages of {@code copy} in order, each taken from {@code b} (pages of {@code inB}, laid out in that order) if
     * it is there, else from {@code a} (pages of {@code inA}): every page of {@code copy} must be in one of them.
     * Into {@code dst} (replaced by a larger one as needed), flipped.
     */
    public static ByteBuffer gather(long[] copy, long[] inA, ByteBuffer a, long[] inB, ByteBuffer b, ByteBuffer dst) {
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
