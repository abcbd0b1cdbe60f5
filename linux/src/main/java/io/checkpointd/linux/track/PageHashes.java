package io.checkpointd.linux.track;

import java.util.Arrays;

/**
 * Page address → 64-bit hash, open addressing with linear probing on two primitive arrays (no boxing: a
 * 1 GiB process has 262,144 pages). Address 0 marks an empty slot (page 0 is never mapped). Not thread-safe.
 */
final class PageHashes {
    private long[] keys;
    private long[] vals;
    private int size;
    private int mask;

    PageHashes(int expected) {
        int cap = Integer.highestOneBit(Math.max(16, expected * 2 - 1)) << 1;
        keys = new long[cap];
        vals = new long[cap];
        mask = cap - 1;
    }

    int size() {
        return size;
    }

    /** The hash stored for {@code page}, or {@code absent}. */
    long get(long page, long absent) {
        for (int i = slot(page); ; i = (i + 1) & mask) {
            long k = keys[i];
            if (k == page) return vals[i];
            if (k == 0) return absent;
        }
    }

    void put(long page, long hash) {
        if ((size + 1) * 2 > keys.length) grow();
        for (int i = slot(page); ; i = (i + 1) & mask) {
            long k = keys[i];
            if (k == page) {
                vals[i] = hash;
                return;
            }
            if (k == 0) {
                keys[i] = page;
                vals[i] = hash;
                size++;
                return;
            }
        }
    }

    void clear() {
        if (size == 0) return;
        Arrays.fill(keys, 0);
        size = 0;
    }

    private int slot(long page) {
        long h = (page >>> 12) * 0x9E3779B97F4A7C15L;
        return (int) (h >>> 40) & mask;
    }

    private void grow() {
        long[] k = keys, v = vals;
        keys = new long[k.length * 2];
        vals = new long[k.length * 2];
        mask = keys.length - 1;
        size = 0;
        for (int i = 0; i < k.length; i++) if (k[i] != 0) put(k[i], v[i]);
    }
}
