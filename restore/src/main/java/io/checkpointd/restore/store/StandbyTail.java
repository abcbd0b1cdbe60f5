package io.checkpointd.restore.store;

import java.io.IOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** The epochs the standby's parent has not caught up yet: which pages they changed, and whether they lead on from it. */
final class StandbyTail {
    private StandbyTail() {
    }

    /**
     * One applied epoch: the plan before and after it ({@code full}: a new image, not a delta; {@code base}: the
     * committed epoch it followed).
     */
    record Transition(long generation, long base, long epoch, boolean full, ImagePlan before, ImagePlan after) {
    }

    /**
     * Why {@code tail} does not lead from the parent's epoch ({@code heldGeneration}/{@code heldEpoch}) to
     * {@code generation}/{@code epoch} one committed epoch after another, or null if it does.
     */
    static String gap(List<Transition> tail, long heldGeneration, long heldEpoch, long generation, long epoch) {
        long g = heldGeneration, e = heldEpoch;
        for (Transition x : tail) {
            if (x.full()) return "a full epoch (" + x.epoch() + ") since its layout";
            if (x.generation() != g || x.base() != e) {
                return "epoch " + x.epoch() + " (gen " + x.generation() + ") follows " + x.base() + ", the parent is at " + e + " (gen " + g + ")";
            }
            e = x.epoch();
        }
        return g == generation && e == epoch ? null : "it leads to epoch " + e + " (gen " + g + "), the store is at " + epoch + " (gen " + generation + ")";
    }

    /** Per pagemap, the page numbers ({@code vaddr >>> 12}) {@code transitions} changed, sorted and distinct. */
    static Map<String, long[]> changedPages(List<Transition> transitions) throws IOException {
        Map<String, LongList> dirty = new HashMap<>();
        for (Transition x : transitions) {
            for (var e : x.after().pages.entrySet()) {
                PageTable before = x.before().pages.getOrDefault(e.getKey(), PageTable.EMPTY);
                LongList l = dirty.computeIfAbsent(e.getKey(), k -> new LongList());
                e.getValue().forEachChanged(before, vaddr -> l.add(vaddr >>> 12));
            }
        }
        Map<String, long[]> m = new HashMap<>();
        dirty.forEach((k, v) -> m.put(k, v.sortedDistinct()));
        return m;
    }

    /** A growable list of longs. */
    private static final class LongList {
        private long[] a = new long[64];
        private int n;

        void add(long v) {
            if (n == a.length) a = java.util.Arrays.copyOf(a, n * 2);
            a[n++] = v;
        }

        long[] sortedDistinct() {
            long[] s = java.util.Arrays.copyOf(a, n);
            java.util.Arrays.sort(s);
            int m = 0;
            for (int i = 0; i < s.length; i++) if (m == 0 || s[i] != s[m - 1]) s[m++] = s[i];
            return java.util.Arrays.copyOf(s, m);
        }
    }
}
