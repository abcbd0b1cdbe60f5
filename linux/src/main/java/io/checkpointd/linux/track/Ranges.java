package io.checkpointd.linux.track;

import io.checkpointd.linux.ProcessMemory.RemoteRange;
import io.checkpointd.linux.proc.Vma;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;

/** Range arithmetic shared by the trackers: address intervals as {@code start -> end} maps or {@code long[2]}. */
final class Ranges {
    static final long PAGE = 4096;

    private Ranges() {
    }

    /** Kernel special mappings neither tracked nor dumped (CRIU skips them too). */
    static boolean isSpecial(Vma v) {
        return v.isSpecial() || v.path().equals("[uprobes]");
    }

    /** Private writable non-special VMAs: what a tracker must watch. */
    static boolean trackable(Vma v) {
        return v.isWritable() && v.isPrivate() && !isSpecial(v);
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
    static void dropUnmapped(TreeMap<Long, Long> tracked, List<Vma> maps) {
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
    static List<long[]> uncovered(TreeMap<Long, Long> tracked, List<Vma> maps) {
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
    static void coalesce(TreeMap<Long, Long> m) {
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
}
