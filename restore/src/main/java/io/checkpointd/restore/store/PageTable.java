package io.checkpointd.restore.store;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * Where each present page of one pagemap has its data: page number ({@code vaddr >>> 12}) → (stored file,
 * offset), with the pagemap's present runs. Persistent: a radix tree of 64-way nodes under a sorted array of
 * 1 GiB roots, so an epoch that changes k pages copies at most k leaves (64 pages each) and the nodes above them,
 * and shares everything else with the table it was edited from. Tables are never mutated once built, so a plan
 * snapshot (the compactor's) stays valid while later epochs commit; a lookup is one binary search over the few
 * roots plus three array reads.
 */
final class PageTable {
    static final PageTable EMPTY = new PageTable(new long[0], new Node[0], 0, PresentRuns.NONE);

    private static final int BITS = 6;
    private static final int FAN = 1 << BITS;
    private static final int MASK = FAN - 1;
    /** Page-number bits below a root: a root covers 2^18 pages (1 GiB). */
    private static final int ROOT_SHIFT = 3 * BITS;

    private final long[] keys; // page number >>> ROOT_SHIFT of each root, ascending
    private final Node[] roots;
    private final long size;
    private final PresentRuns runs;

    private PageTable(long[] keys, Node[] roots, long size, PresentRuns runs) {
        this.keys = keys;
        this.roots = roots;
        this.size = size;
        this.runs = runs;
    }

    /** Number of pages with data. */
    long size() {
        return size;
    }

    /** The present pages of the pagemap this table serves. */
    PresentRuns runs() {
        return runs;
    }

    /** The data of the page at {@code vaddr}, or null. */
    ImagePlan.PageRef get(long vaddr) {
        long pn = vaddr >>> 12;
        int r = Arrays.binarySearch(keys, pn >>> ROOT_SHIFT);
        if (r < 0) return null;
        Node mid = (Node) roots[r].kids[(int) (pn >>> (2 * BITS)) & MASK];
        if (mid == null) return null;
        Leaf leaf = (Leaf) mid.kids[(int) (pn >>> BITS) & MASK];
        if (leaf == null) return null;
        int i = (int) pn & MASK;
        Path f = leaf.files[i];
        return f == null ? null : new ImagePlan.PageRef(f, leaf.offsets[i]);
    }

    /**
     * This table with every page whose data has not changed since {@code snapshot} (an older version this one was
     * edited from) served as in {@code relocated} (the snapshot's pages at new places: a compacted base) instead.
     * Walks only what differs from the snapshot: subtrees shared with it are swapped whole.
     */
    PageTable rebase(PageTable snapshot, PageTable relocated) {
        Object token = new Object();
        long[] k = keys.clone();
        Node[] r = roots.clone();
        for (int i = 0; i < k.length; i++) {
            Node snap = rootAt(snapshot, k[i]), moved = rootAt(relocated, k[i]);
            if (snap != null) r[i] = (Node) rebase(token, roots[i], snap, moved, 2 * BITS);
        }
        return new PageTable(k, r, size, runs);
    }

    private static Node rootAt(PageTable t, long key) {
        int i = Arrays.binarySearch(t.keys, key);
        return i < 0 ? null : t.roots[i];
    }

    /** {@code cur} (a subtree at level {@code shift}) rebased; {@code moved} is the relocated twin of {@code snap}. */
    private static Object rebase(Object token, Object cur, Object snap, Object moved, int shift) {
        if (cur == null || snap == null) return cur;
        if (cur == snap) return moved;
        if (shift == 0) {
            Leaf c = (Leaf) cur, s = (Leaf) snap, m = (Leaf) moved;
            Leaf out = new Leaf(token, c.files.clone(), c.offsets.clone(), c.pages);
            for (int i = 0; i < FAN; i++) {
                if (c.files[i] != null && c.offsets[i] == s.offsets[i] && (c.files[i] == s.files[i] || c.files[i].equals(s.files[i]))) {
                    out.files[i] = m.files[i];
                    out.offsets[i] = m.offsets[i];
                }
            }
            return out;
        }
        Node c = (Node) cur, s = (Node) snap, m = (Node) moved;
        Node out = new Node(token, c.kids.clone(), c.pages);
        for (int i = 0; i < FAN; i++) {
            out.kids[i] = rebase(token, c.kids[i], s.kids[i], m == null ? null : m.kids[i], shift - BITS);
        }
        return out;
    }

    /** Receives the virtual address of a page. */
    @FunctionalInterface
    interface PageConsumer {
        void page(long vaddr) throws java.io.IOException;
    }

    /**
     * Calls {@code changed} with every page that has data here and none, or other data, in {@code older} (a version
     * this one was edited from, directly or not). Subtrees the two share are skipped whole, so consecutive versions
     * cost what one epoch changed.
     */
    void forEachChanged(PageTable older, PageConsumer changed) throws java.io.IOException {
        for (int i = 0; i < keys.length; i++) diff(roots[i], rootAt(older, keys[i]), keys[i] << ROOT_SHIFT, 2 * BITS, changed);
    }

    private static void diff(Object cur, Object old, long base, int shift, PageConsumer changed) throws java.io.IOException {
        if (cur == old || cur == null) return;
        if (shift == 0) {
            Leaf c = (Leaf) cur, o = (Leaf) old;
            for (int i = 0; i < FAN; i++) {
                if (c.files[i] == null) continue;
                if (o == null || o.files[i] == null || o.offsets[i] != c.offsets[i] || !o.files[i].equals(c.files[i])) changed.page((base + i) << 12);
            }
            return;
        }
        Node c = (Node) cur, o = (Node) old;
        for (int k = 0; k < FAN; k++) diff(c.kids[k], o == null ? null : o.kids[k], base + ((long) k << shift), shift - BITS, changed);
    }

    /** Starts a new version of this table; this one stays as it is. */
    Editor edit() {
        return new Editor(this);
    }

    /** An inner node: 64 children covering equal page ranges; {@code pages} counts the pages with data below. */
    private static final class Node {
        final Object owner;
        final Object[] kids;
        int pages;

        Node(Object owner, Object[] kids, int pages) {
            this.owner = owner;
            this.kids = kids;
            this.pages = pages;
        }
    }

    /** 64 consecutive pages: a null file is a page without data. */
    private static final class Leaf {
        final Object owner;
        final Path[] files;
        final long[] offsets;
        int pages;

        Leaf(Object owner, Path[] files, long[] offsets, int pages) {
            this.owner = owner;
            this.files = files;
            this.offsets = offsets;
            this.pages = pages;
        }
    }

    /**
     * Builds the next version: nodes reached from the previous version are copied the first time this editor
     * writes to them (it owns its copies, so later writes in the same epoch go in place), never written in place.
     * Single-threaded, and used once: {@link #build} ends it.
     */
    static final class Editor {
        private final Object token = new Object();
        private long[] keys;
        private Node[] roots;
        private int n;
        private long size;
        private boolean built;

        private Editor(PageTable from) {
            keys = from.keys.clone();
            roots = from.roots.clone();
            n = keys.length;
            size = from.size;
        }

        /** Sets the data of the page at {@code vaddr} (page aligned). */
        void put(long vaddr, Path file, long offset) {
            check();
            long pn = vaddr >>> 12;
            long key = pn >>> ROOT_SHIFT;
            int r = Arrays.binarySearch(keys, 0, n, key);
            Node root;
            if (r >= 0) {
                root = own(roots[r]);
                roots[r] = root;
            } else {
                root = new Node(token, new Object[FAN], 0);
                insertRoot(-r - 1, key, root);
            }
            int mi = (int) (pn >>> (2 * BITS)) & MASK, li = (int) (pn >>> BITS) & MASK, i = (int) pn & MASK;
            Node mid = root.kids[mi] == null ? new Node(token, new Object[FAN], 0) : own((Node) root.kids[mi]);
            root.kids[mi] = mid;
            Leaf leaf = mid.kids[li] == null ? new Leaf(token, new Path[FAN], new long[FAN], 0) : own((Leaf) mid.kids[li]);
            mid.kids[li] = leaf;
            if (leaf.files[i] == null) {
                leaf.pages++;
                mid.pages++;
                root.pages++;
                size++;
            }
            leaf.files[i] = file;
            leaf.offsets[i] = offset;
        }

        /** Drops the data of pages {@code [from, to)} (page numbers); whole subtrees in range go at once. */
        void removePages(long from, long to) {
            check();
            if (from >= to) return;
            int r = Arrays.binarySearch(keys, 0, n, from >>> ROOT_SHIFT);
            if (r < 0) r = -r - 1;
            for (; r < n && keys[r] << ROOT_SHIFT < to; r++) {
                if (roots[r] == null) continue;
                long base = keys[r] << ROOT_SHIFT;
                if (from <= base && base + (1L << ROOT_SHIFT) <= to) {
                    size -= roots[r].pages;
                    roots[r] = null;
                    continue;
                }
                Node root = own(roots[r]);
                roots[r] = root;
                size -= remove(root, 2 * BITS, base, from, to);
                if (root.pages == 0) roots[r] = null;
            }
            compactRoots();
        }

        /** Removes pages in range from the owned {@code node} covering {@code base + [0, 64 << shift)}. */
        private int remove(Node node, int shift, long base, long from, long to) {
            int first = (int) Math.max(0, (from - base) >> shift), last = (int) Math.min(MASK, (to - 1 - base) >> shift);
            int removed = 0;
            for (int k = first; k <= last; k++) {
                Object kid = node.kids[k];
                if (kid == null) continue;
                long kidBase = base + ((long) k << shift), kidEnd = kidBase + (1L << shift);
                if (from <= kidBase && kidEnd <= to) {
                    removed += kid instanceof Leaf l ? l.pages : ((Node) kid).pages;
                    node.kids[k] = null;
                } else if (shift == BITS) {
                    Leaf leaf = own((Leaf) kid);
                    node.kids[k] = leaf;
                    for (long p = Math.max(from, kidBase); p < Math.min(to, kidEnd); p++) {
                        int i = (int) (p - kidBase);
                        if (leaf.files[i] == null) continue;
                        leaf.files[i] = null;
                        leaf.offsets[i] = 0;
                        leaf.pages--;
                        removed++;
                    }
                    if (leaf.pages == 0) node.kids[k] = null;
                } else {
                    Node child = own((Node) kid);
                    node.kids[k] = child;
                    removed += remove(child, shift - BITS, kidBase, from, to);
                    if (child.pages == 0) node.kids[k] = null;
                }
            }
            node.pages -= removed;
            return removed;
        }

        /** The new version, serving a pagemap with present runs {@code runs}; ends this editor. */
        PageTable build(PresentRuns runs) {
            check();
            built = true;
            compactRoots();
            return new PageTable(Arrays.copyOf(keys, n), Arrays.copyOf(roots, n), size, runs);
        }

        long size() {
            return size;
        }

        private void check() {
            if (built) throw new IllegalStateException("page table editor already built");
        }

        private Node own(Node x) {
            return x.owner == token ? x : new Node(token, x.kids.clone(), x.pages);
        }

        private Leaf own(Leaf x) {
            return x.owner == token ? x : new Leaf(token, x.files.clone(), x.offsets.clone(), x.pages);
        }

        private void insertRoot(int at, long key, Node root) {
            if (n == keys.length) {
                keys = Arrays.copyOf(keys, Math.max(4, n * 2));
                roots = Arrays.copyOf(roots, keys.length);
            }
            System.arraycopy(keys, at, keys, at + 1, n - at);
            System.arraycopy(roots, at, roots, at + 1, n - at);
            keys[at] = key;
            roots[at] = root;
            n++;
        }

        private void compactRoots() {
            int m = 0;
            for (int i = 0; i < n; i++) {
                if (roots[i] == null) continue;
                keys[m] = keys[i];
                roots[m++] = roots[i];
            }
            Arrays.fill(roots, m, n, null);
            n = m;
        }
    }
}
