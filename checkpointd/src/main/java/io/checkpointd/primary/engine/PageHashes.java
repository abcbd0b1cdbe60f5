package io.checkpointd.primary.engine;

import java.util.Arrays;

/**
 * Virtual page address → 64-bit hash of the page as last shipped: an open-addressing map of primitives (a 1 GiB
 * process has 262,144 pages; a {@code HashMap<Long, Long>} would cost ~20 MB of objects and GC time). Used to ship
 * only pages whose bytes really changed (a page written with the same bytes, or a structural CRIU dump of a
 * process whose pages are mostly unchanged).
 */
final class PageHashes {
    private static final long EMPTY = -1L; // page addresses are 4 KiB aligned: never -1
    private long[] keys;
    private long[] values;
    private int size;

    PageHashes(int expected) {
        int cap = Integer.highestOneBit(Math.max(16, expected * 2 - 1)) << 1;
        keys = new long[cap];
        values = new long[cap];
        Arrays.fill(keys, EMPTY);
    }

    int size() {
        return size;
    }

    private int slot(long key) {
        long h = (key >>> 12) * 0x9E3779B97F4A7C15L;
        return (int) (h >>> 32) & (keys.length - 1);
    }

    /** @return true if {@code key} was absent or mapped to another hash (the page must ship); stores {@code hash} */
    boolean changed(long key, long hash) {
        int m = keys.length - 1;
        for (int i = slot(key); ; i = (i + 1) & m) {
            if (keys[i] == key) {
                if (values[i] == hash) return false;
                values[i] = hash;
                return true;
            }
            if (keys[i] == EMPTY) {
                keys[i] = key;
                values[i] = hash;
                if (++size * 2 > keys.length) grow();
                return true;
            }
        }
    }

    /** The value stored for {@code key}, or {@code absent}. */
    long get(long key, long absent) {
        int m = keys.length - 1;
        for (int i = slot(key); ; i = (i + 1) & m) {
            if (keys[i] == key) return values[i];
            if (keys[i] == EMPTY) return absent;
        }
    }

    void remove(long key) {
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

    private void grow() {
        long[] ok = keys, ov = values;
        keys = new long[ok.length * 2];
        values = new long[ok.length * 2];
        Arrays.fill(keys, EMPTY);
        size = 0;
        for (int i = 0; i < ok.length; i++) if (ok[i] != EMPTY) changed(ok[i], ov[i]);
    }
}
