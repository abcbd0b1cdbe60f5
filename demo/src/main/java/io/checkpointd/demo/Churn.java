package io.checkpointd.demo;

import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.Syscalls;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Makes a service's memory and structure change the way a long-running JVM's do, for the incremental engine's
 * oracle: the heap grows and shrinks (retained arrays, then dropped), anonymous memory is mapped, re-protected and
 * unmapped (and a read-only page is mapped again over itself with new bytes) and the brk heap grows (every 10 ms step, so every 25 ms epoch sees the memory map change), pages are
 * dropped with {@code MADV_DONTNEED} (zero again without a write), and threads start and stop: one every 10 ms,
 * each alive 20 to 120 ms (so every epoch sees threads born and ended, and thread stacks mapped and unmapped),
 * joined by the churn thread once done. One daemon thread, a few operations every 10 ms; everything it holds is
 * bounded.
 */
public final class Churn implements Runnable {
    private static final int PAGE = 4096;
    /**
     * The brk heap grows by a page a step up to this, then stays: giving it back races with malloc's own use of the
     * break (glibc's {@code sbrk} takes no lock), so the churn never shrinks it; about three minutes of growth.
     */
    private static final long BRK_MAX = 64L << 20;
    private final Random rnd = new Random(42);
    private final List<byte[]> retained = new ArrayList<>();
    private final ArrayDeque<ByteBuffer> mapped = new ArrayDeque<>();
    private final ArrayDeque<Thread> workers = new ArrayDeque<>();
    private final ByteBuffer arena;
    private final ByteBuffer recycled;
    private long brkBytes;
    private long ops;

    private Churn() throws SyscallException {
        arena = Syscalls.mapAnonymous(8 << 20);
        recycled = Syscalls.mapAnonymous(PAGE);
    }

    /** Starts the churn thread in this JVM. */
    public static void start() throws SyscallException {
        Thread t = new Thread(new Churn(), "churn");
        t.setDaemon(true);
        t.start();
    }

    @Override
    public void run() {
        try {
            while (true) {
                step();
                Thread.sleep(10);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (SyscallException e) {
            System.err.println("churn: " + e.getMessage());
        }
    }

    private void step() throws SyscallException {
        ops++;
        // writes all over a long-lived mapping: the incremental epochs' dirty pages
        for (int i = 0; i < 16; i++) {
            int page = rnd.nextInt(arena.capacity() / PAGE);
            arena.putLong(page * PAGE + 8 * rnd.nextInt(PAGE / 8), ops * 31 + i);
        }
        // pages dropped without a write: they must read back as zeros after a restore
        if (ops % 3 == 0) {
            int page = rnd.nextInt(arena.capacity() / PAGE - 16);
            Syscalls.madvise(arena, (long) page * PAGE, 16L * PAGE, Syscalls.MADV_DONTNEED);
        }
        // heap growth and shrink: the collector commits and uncommits heap
        if (ops % 3 == 0) retained.add(new byte[64 << 10]);
        if (retained.size() > 100) {
            retained.clear();
            System.gc();
        }
        // anonymous mappings come and go, and change protection (splitting and merging VMAs): every step
        ByteBuffer b = Syscalls.mapAnonymous((1 + rnd.nextInt(64)) * PAGE);
        for (int off = 0; off < b.capacity(); off += PAGE) b.putLong(off, ops + off);
        mapped.add(b);
        if (mapped.size() > 8) Syscalls.unmap(mapped.poll());
        if (b.capacity() >= 2 * PAGE) Syscalls.protect(b, PAGE, PAGE, false); // its second page read-only
        ByteBuffer older = mapped.peek();
        if (older != b && older.capacity() >= 2 * PAGE) Syscalls.protect(older, PAGE, PAGE, ops % 2 == 0);
        // a read-only page replaced in place: a new mapping at the same address, written, then read-only again. Its
        // maps line never changes, only its bytes (a writable range is never seen there unless a stop falls in between)
        Syscalls.remapAnonymous(recycled);
        recycled.putLong(0, ops);
        Syscalls.protect(recycled, 0, PAGE, false);
        // the brk heap grows
        if (brkBytes < BRK_MAX) {
            Syscalls.growBreak(PAGE).putLong(0, ops);
            brkBytes += PAGE;
        }
        // threads start and stop: one per step, alive across an epoch or a few, joined when done
        long seed = ops;
        Thread t = new Thread(() -> {
            long x = 0;
            for (int i = 0; i < 20_000; i++) x += i * (long) i;
            if (x == 42) System.out.println(x);
            try {
                Thread.sleep(20 + (seed * 7919 + x) % 100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "churn-worker-" + ops);
        t.start();
        workers.add(t);
        while (!workers.isEmpty() && (!workers.peek().isAlive() || workers.size() > 32)) {
            try {
                workers.peek().join(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            workers.poll();
        }
    }
}
