package io.checkpointd.restore.store;

import io.checkpointd.protocol.image.Pagemap;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Where each page of the standby's parent image sits in its pages file: the present runs of the pagemap the parent
 * was laid out with, by page number ({@code vaddr >>> 12}). The layout never changes once written; pages that
 * become present later are not in it (they go into the restore image's own pages file). Immutable.
 */
final class ParentLayout {
    private final long[] starts;
    private final long[] ends;
    private final long[] index;
    private final long pages;

    private ParentLayout(long[] starts, long[] ends, long[] index, long pages) {
        this.starts = starts;
        this.ends = ends;
        this.index = index;
        this.pages = pages;
    }

    static ParentLayout of(Pagemap pm) {
        List<Pagemap.Run> runs = new ArrayList<>();
        for (Pagemap.Run r : pm.runs()) if (r.present() && r.nrPages() > 0) runs.add(r);
        runs.sort(Comparator.comparingLong(Pagemap.Run::vaddr));
        long[] s = new long[runs.size()], e = new long[runs.size()], x = new long[runs.size()];
        long pages = 0;
        for (int i = 0; i < runs.size(); i++) {
            Pagemap.Run r = runs.get(i);
            s[i] = r.vaddr() >>> 12;
            e[i] = s[i] + r.nrPages();
            x[i] = r.dataIndex();
            pages += r.nrPages();
        }
        return new ParentLayout(s, e, x, pages);
    }

    long pages() {
        return pages;
    }

    /** The run holding page {@code pn}, or {@code -(insertion point) - 1} if none does. */
    private int find(long pn) {
        int lo = 0, hi = starts.length - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (ends[mid] <= pn) lo = mid + 1;
            else if (starts[mid] > pn) hi = mid - 1;
            else return mid;
        }
        return -lo - 1;
    }

    /** Index of page {@code pn} in the parent's pages file, or -1 if the parent has no slot for it. */
    long indexOf(long pn) {
        int r = find(pn);
        return r < 0 ? -1 : index[r] + (pn - starts[r]);
    }

    /**
     * The end (exclusive, at most {@code limit}) of the stretch from page {@code pn} that is uniformly in the
     * layout or uniformly out of it.
     */
    long stretchEnd(long pn, long limit) {
        int r = find(pn);
        if (r >= 0) return Math.min(limit, ends[r]);
        int next = -r - 1;
        return next < starts.length ? Math.min(limit, starts[next]) : limit;
    }

    /** Pages of {@code [from, to)} the layout has a slot for. */
    long covered(long from, long to) {
        long n = 0;
        for (long pn = from; pn < to; ) {
            long end = stretchEnd(pn, to);
            if (find(pn) >= 0) n += end - pn;
            pn = end;
        }
        return n;
    }
}
