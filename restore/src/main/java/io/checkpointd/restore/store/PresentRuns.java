package io.checkpointd.restore.store;

import io.checkpointd.protocol.image.Pagemap;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;

/**
 * The present pages of one pagemap as sorted, disjoint, non-adjacent ranges of page numbers
 * ({@code vaddr >>> 12}, end exclusive). Two of them are diffed in time linear in their runs, so a changed
 * pagemap costs what it holds, not what it describes. Immutable.
 */
final class PresentRuns {
    static final PresentRuns NONE = new PresentRuns(new long[0], new long[0], 0);
    /** Page numbers of a 64-bit address space. */
    private static final long PAGE_LIMIT = 1L << 52;

    private final long[] starts;
    private final long[] ends;
    private final long pages;

    private PresentRuns(long[] starts, long[] ends, long pages) {
        this.starts = starts;
        this.ends = ends;
        this.pages = pages;
    }

    /** The present runs of {@code pm}, overlapping or adjacent runs merged. */
    static PresentRuns of(Pagemap pm) throws IOException {
        List<Pagemap.Run> runs = pm.runs();
        long[] s = new long[runs.size()], e = new long[runs.size()];
        int n = 0;
        boolean sorted = true;
        for (Pagemap.Run r : runs) {
            if (!r.present() || r.nrPages() == 0) continue;
            if ((r.vaddr() & (Pagemap.PAGE_SIZE - 1)) != 0) throw new IOException("unaligned pagemap run at 0x" + Long.toHexString(r.vaddr()));
            long first = r.vaddr() >>> 12;
            if (r.nrPages() < 0 || r.nrPages() > PAGE_LIMIT - first) throw new IOException("pagemap run out of range at 0x" + Long.toHexString(r.vaddr()));
            if (n > 0 && first < s[n - 1]) sorted = false;
            s[n] = first;
            e[n] = first + r.nrPages();
            n++;
        }
        if (!sorted) { // CRIU writes runs in address order; anything else is sorted here, once
            long[][] pairs = new long[n][];
            for (int i = 0; i < n; i++) pairs[i] = new long[] {s[i], e[i]};
            Arrays.sort(pairs, (a, b) -> Long.compare(a[0], b[0]));
            for (int i = 0; i < n; i++) {
                s[i] = pairs[i][0];
                e[i] = pairs[i][1];
            }
        }
        int m = 0;
        long pages = 0;
        for (int i = 0; i < n; i++) {
            if (m > 0 && s[i] <= e[m - 1]) {
                if (e[i] > e[m - 1]) {
                    pages += e[i] - e[m - 1];
                    e[m - 1] = e[i];
                }
            } else {
                s[m] = s[i];
                e[m] = e[i];
                pages += e[i] - s[i];
                m++;
            }
        }
        return new PresentRuns(Arrays.copyOf(s, m), Arrays.copyOf(e, m), pages);
    }

    /** Number of present pages (each counted once). */
    long pages() {
        return pages;
    }

    int count() {
        return starts.length;
    }

    long start(int i) {
        return starts[i];
    }

    long end(int i) {
        return ends[i];
    }

    boolean contains(long pageNumber) {
        int i = Arrays.binarySearch(starts, pageNumber);
        if (i >= 0) return true;
        int prev = -i - 2;
        return prev >= 0 && pageNumber < ends[prev];
    }

    /** The pages present here and not in {@code other}. */
    PresentRuns minus(PresentRuns other) {
        long[] s = new long[starts.length + other.starts.length], e = new long[s.length];
        int n = 0, j = 0;
        long pages = 0;
        for (int i = 0; i < starts.length; i++) {
            long from = starts[i], to = ends[i];
            while (j < other.starts.length && other.ends[j] <= from) j++;
            int k = j;
            while (from < to) {
                if (k >= other.starts.length || other.starts[k] >= to) {
                    s[n] = from;
                    e[n++] = to;
                    pages += to - from;
                    break;
                }
                if (other.starts[k] > from) {
                    s[n] = from;
                    e[n++] = other.starts[k];
                    pages += other.starts[k] - from;
                }
                from = Math.max(from, other.ends[k]);
                k++;
            }
        }
        return new PresentRuns(Arrays.copyOf(s, n), Arrays.copyOf(e, n), pages);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PresentRuns r && Arrays.equals(starts, r.starts) && Arrays.equals(ends, r.ends);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(starts) * 31 + Arrays.hashCode(ends);
    }
}
