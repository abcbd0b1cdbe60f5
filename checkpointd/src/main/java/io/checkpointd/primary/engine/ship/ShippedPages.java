package io.checkpointd.primary.engine.ship;

import io.checkpointd.linux.track.PageHashes;
import io.checkpointd.protocol.image.Pagemap;
import io.checkpointd.protocol.replication.EpochRecord;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The content, as last shipped, of recently shipped pages, so a page written again can ship as XOR against it
 * ({@link EpochRecord.PagesXor}, Remus's compression): bounded (clock eviction over {@code byte[]} slabs allocated as
 * pages arrive), keyed by virtual address. An entry must equal what the backup holds for that page once every epoch
 * shipped so far has committed; the engine drops everything whenever that may not hold (full sync, NACK, lost
 * connection, failed or discarded epoch) and drops a page when it leaves the present set. Should it ever be wrong
 * anyway, the backup refuses the XOR (base hash mismatch) and the primary resyncs: a wrong base is never applied.
 * Not thread-safe: used by the thread that ships epochs.
 */
final class ShippedPages {
    private static final int PAGE = Pagemap.PAGE_SIZE;
    private static final int SLAB_PAGES = 256; // 1 MiB
    /** XOR only pages with at most this many changed bytes (≥ 75 % unchanged); others ship plain. */
    static final int MAX_CHANGED_BYTES = PAGE / 4;
    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.nativeOrder());
    private static final long LOW7 = 0x7F7F7F7F7F7F7F7FL, HIGH = 0x8080808080808080L;

    private final int capacity;
    private final byte[][] slabs;
    private final long[] vaddrOf; // slot → vaddr, or -1 if free
    private final boolean[] referenced;
    private final int[] free;
    private PageHashes slotOf = new PageHashes(1024); // vaddr → slot
    private int freeCount;
    private int used; // slots ever handed out since the last clear
    private int hand;
    private final byte[] cur = new byte[PAGE];

    /** @param capacityPages how many pages it holds at most (16,384 = 64 MiB) */
    ShippedPages(int capacityPages) {
        if (capacityPages < 1) throw new IllegalArgumentException("capacity " + capacityPages);
        capacity = capacityPages;
        slabs = new byte[(capacityPages + SLAB_PAGES - 1) / SLAB_PAGES][];
        vaddrOf = new long[capacityPages];
        Arrays.fill(vaddrOf, -1);
        referenced = new boolean[capacityPages];
        free = new int[capacityPages];
    }

    int size() {
        return slotOf.size();
    }

    boolean contains(long vaddr) {
        return slotOf.get(vaddr, -1) >= 0;
    }

    /** Forgets everything. */
    void clear() {
        slotOf = new PageHashes(1024);
        Arrays.fill(vaddrOf, -1);
        Arrays.fill(referenced, false);
        freeCount = 0;
        used = 0;
        hand = 0;
    }

    /** Forgets {@code vaddr} (its page left the present set). */
    void remove(long vaddr) {
        int s = (int) slotOf.get(vaddr, -1);
        if (s < 0) return;
        slotOf.remove(vaddr);
        vaddrOf[s] = -1;
        referenced[s] = false;
        free[freeCount++] = s;
    }

    /** Records {@code page} (4 KiB from its position, which is left as it is) as what was shipped for {@code vaddr}. */
    void put(long vaddr, ByteBuffer page) {
        int s = (int) slotOf.get(vaddr, -1);
        if (s < 0) {
            s = allocate();
            slotOf.changed(vaddr, s);
            vaddrOf[s] = vaddr;
        }
        referenced[s] = true;
        page.get(page.position(), slab(s), offset(s), PAGE);
    }

    /**
     * Writes {@code page} XOR the cached version of {@code vaddr} into {@code out} at {@code off} if there is one and
     * at most {@link #MAX_CHANGED_BYTES} bytes differ, and then returns true with the base's
     * {@link EpochRecord.PagesXor#baseHash hash} in {@code baseHash[at]}; else returns false ({@code out} may be
     * scribbled on at {@code off}).
     */
    boolean xor(long vaddr, ByteBuffer page, byte[] out, int off, long[] baseHash, int at) {
        int s = (int) slotOf.get(vaddr, -1);
        if (s < 0) return false;
        byte[] slab = slab(s);
        int base = offset(s);
        page.get(page.position(), cur, 0, PAGE);
        int changed = 0;
        for (int i = 0; i < PAGE; i += 8) {
            long x = (long) LONGS.get(cur, i) ^ (long) LONGS.get(slab, base + i);
            LONGS.set(out, off + i, x);
            changed += Long.bitCount((((x & LOW7) + LOW7) | x) & HIGH); // bytes of x that are not zero
        }
        if (changed > MAX_CHANGED_BYTES) return false;
        referenced[s] = true;
        baseHash[at] = EpochRecord.PagesXor.baseHash(slab, base);
        return true;
    }

    private int allocate() {
        if (freeCount > 0) return free[--freeCount];
        if (used < capacity) return used++;
        while (referenced[hand]) { // clock: a page used since the hand last passed gets another round
            referenced[hand] = false;
            hand = (hand + 1) % capacity;
        }
        int s = hand;
        hand = (hand + 1) % capacity;
        slotOf.remove(vaddrOf[s]);
        return s;
    }

    private byte[] slab(int s) {
        byte[] b = slabs[s / SLAB_PAGES];
        if (b == null) b = slabs[s / SLAB_PAGES] = new byte[SLAB_PAGES * PAGE];
        return b;
    }

    private static int offset(int s) {
        return (s % SLAB_PAGES) * PAGE;
    }
}
