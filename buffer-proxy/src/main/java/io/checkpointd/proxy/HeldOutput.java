package io.checkpointd.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;

/**
 * One connection's unreleased service output: chunks in arrival order, each tagged with the epoch it was read in,
 * optionally ending with the upstream's close. Epoch tags never decrease along the queue because the open epoch
 * only grows, so releasing "everything tagged &le; N" is popping a prefix. Owns the buffers it holds.
 */
final class HeldOutput {
    /** A held chunk, or the upstream's close when {@code data} is null. */
    record Entry(ByteBuf data, long epoch, long heldAtNanos) {
        boolean isClose() {
            return data == null;
        }
    }

    private final ArrayDeque<Entry> queue = new ArrayDeque<>();
    private long bytes;
    private boolean closeQueued;

    /** Takes ownership of {@code data}. */
    void add(ByteBuf data, long epoch) {
        if (closeQueued) throw new IllegalStateException("output after the upstream's close");
        queue.addLast(new Entry(data, epoch, System.nanoTime()));
        bytes += data.readableBytes();
    }

    void addClose(long epoch) {
        if (!closeQueued) queue.addLast(new Entry(null, epoch, System.nanoTime()));
        closeQueued = true;
    }

    Entry peek() {
        return queue.peekFirst();
    }

    /** Removes the head; the caller now owns its buffer. */
    Entry poll() {
        Entry e = queue.pollFirst();
        if (e != null && !e.isClose()) bytes -= e.data().readableBytes();
        return e;
    }

    long bytes() {
        return bytes;
    }

    boolean isEmpty() {
        return queue.isEmpty();
    }

    /** Frees every held buffer. @return the bytes dropped */
    long discard() {
        long dropped = bytes;
        Entry e;
        while ((e = queue.pollFirst()) != null) {
            if (!e.isClose()) ReferenceCountUtil.release(e.data());
        }
        bytes = 0;
        return dropped;
    }
}
