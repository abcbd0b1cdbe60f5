package io.checkpointd.linux.track;

import java.util.Arrays;

/**
 * Virtual page address → 64-bit value (a page's hash, or a slot number): an open-addressing map with linear probing on
 * two primitive arrays (a 1 GiB process has 262,144 pages; a {@code HashMap<Long, Long>} would cost ~20 MB of objects
 * and GC time). The scan tracker keeps the hashes of the last scan in it, the capture engine the hash of each page as
 * last shipped, to ship only pages whose bytes really changed. Not thread-safe.
 */
public final class PageHashes {
    private static final long EMPTY = -1L; // page addresses are 4 KiB aligned: never -1
    private long[] keys;
    private long[] values;
    private int size;

    /** A map sized for about {@code expected} pages (it grows as needed). */
    public PageHashes(int expected) {
        int cap = Integer.highestOneBit(Math.max(16, expected * 2 - 1)) << 1;
        keys = new long[cap];
        values = new long[cap];
        Arrays.fill(keys, EMPTY);
    }

    /** How many pages have a value. */
    public int size() {
        return size;
    }

    private int slot(long key) {
        long h = (key >>> 12) * 0x9E3779B97F4A7C15L;
        return (int) (h >>> 32) & (keys.length - 1);
    }

    /** @return true if {@code key} was absent or mapped to another value (the page must ship); stores {@code value} */
    public boolean changed(long key, long value) {
        int m = keys.length - 1;
        for (int i = slot(key); ; i = (i + 1) & m) {
            if (keys[i] == key) {
                if (values[i] == value) return false;
                values[i] = value;
                return true;
            }
            if (keys[i] == EMPTY) {
                keys[i] = key;
                values[i] = value;
                if (++size * 2 > keys.length) grow();
                return true;
            }
        }
    }

    /** Stores {@code value} for {@code key}. */
    public void put(long key, long value) {
        changed(key, value);
    }

    /** The value stored for {@code key}, or {@code absent}. */
    public long get(long key, long absent) {
        int m = keys.length - 1;
        for (int i = slot(key); ; i = (i + 1) & m) {
            if (keys[i] == key) return values[i];
            if (keys[i] == EMPTY) return absent;
        }
    }

    /** Forgets {@code key}'s value, if any. */
    public void remove(long key) {
        int m = keys.length - 1;
        int i = slot(key);
        while (keys[i] != key) {
            if (keys[i] == EMPTY) return;
            i = (i + 1) & m;
        }
        // backward-shift deletion keeps probe chains intact without tombstones
        int j = i;
        while (true) {
            j = (j + 1) & m;
            if (keys[j] == EMPTY) break;
            int home = slot(keys[j]);
            boolean between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
            if (between) continue;
            keys[i] = keys[j];
            values[i] = values[j];
            i = j;
        }
        keys[i] = EMPTY;
        size--;
    }

    /** Forgets every value (the arrays keep their size). */
    public void clear() {
        if (size == 0) return;
        Arrays.fill(keys, EMPTY);
        size = 0;
    }

    private void grow() {
        long[] ok = keys, ov = values;
        keys = new long[ok.length * 2];
        values = new long[ok.length * 2];
        Arrays.fill(keys, EMPTY);
        size = 0;
        for (int i = 0; i < ok.length; i++) if (ok[i] != EMPTY) changed(ok[i], ov[i]);
    }
}
