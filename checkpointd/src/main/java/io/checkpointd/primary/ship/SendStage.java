package io.checkpointd.primary.ship;

import io.checkpointd.protocol.Frame;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The ship's own stage: frames the epoch loop has produced are compressed, checksummed and written on this stage's
 * thread, so the capture of epoch n+1 never waits for epoch n's bytes to go out. Frames leave in the order queued.
 *
 * <p>The queue is bounded by payload bytes ({@code maxQueuedBytes}): when the wire or the backup lags, the producer
 * blocks in {@link #enqueue} (back-pressure; a frame larger than the bound still passes, alone). The wire is flushed
 * only when the queue is empty, so an epoch's frames share system calls.
 *
 * <p>{@link #enqueueAll} queues a burst at once (one wake-up of the stage, one flush after its last frame). A small
 * burst finding the stage idle (at most {@code inlineMaxBytes}) is written on the caller's thread instead: an epoch
 * of a few pages, which a reply waits for, then skips the hand-off to the stage's thread; frames still leave one
 * writer at a time, in order.
 *
 * <p>Frames belong to a <em>session</em> (one connection). A frame that cannot be written breaks its session: the
 * rest of it is dropped and the producer learns it at its next {@link #enqueue} (an IOException); {@link #reset}
 * starts a new session for a new connection and waits out a write in progress, so no frame of an old session can
 * reach a new connection.
 */
public final class SendStage implements AutoCloseable {
    /** Where frames go: the replication connection. */
    @FunctionalInterface
    public interface Wire {
        /**
         * Writes one frame, flushing the connection if {@code flush}; blocks while the connection is saturated.
         *
         * @return the frame's bytes on the wire
         */
        int send(Frame f, boolean flush) throws IOException, InterruptedException;
    }

    /** Told once a frame is on the wire, on the stage's thread; must not block. */
    @FunctionalInterface
    public interface Sent {
        Sent NONE = wireBytes -> { };

        void sent(int wireBytes);
    }

    private record Item(Frame frame, long session, Sent sent) {
    }

    private final Wire wire;
    private final long maxQueuedBytes;
    /** Bursts up to this many payload bytes that find the stage idle are written by the caller; 0: never. */
    private final long inlineMaxBytes;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final ArrayDeque<Item> queue = new ArrayDeque<>();
    private final Thread thread;
    private long queuedBytes;
    /** Frames accepted and frames done (written or dropped), in order: {@link #awaitSent} waits for one to catch up. */
    private long accepted, done;
    private long session;
    /** The session a failed write broke, and why; -1: none. */
    private long broken = -1;
    private IOException failure;
    /** A frame is being written (taken from the queue, not yet done). */
    private boolean writing;
    private boolean closed;
    private volatile long lastWrittenNanos = System.nanoTime();
    private long framesWritten, flushes, blockedNanos, inlineBursts;

    /** Starts the stage's thread ({@code name}); every burst goes through it. */
    public SendStage(Wire wire, long maxQueuedBytes, String name) {
        this(wire, maxQueuedBytes, 0, name);
    }

    /** Starts the stage's thread ({@code name}); bursts of at most {@code inlineMaxBytes} finding it idle are written by their caller. */
    public SendStage(Wire wire, long maxQueuedBytes, long inlineMaxBytes, String name) {
        this.wire = wire;
        this.maxQueuedBytes = maxQueuedBytes;
        this.inlineMaxBytes = inlineMaxBytes;
        this.thread = new Thread(this::run, name);
        thread.setDaemon(true);
        thread.start();
    }

    /**
     * Queues {@code f} behind every frame queued before it; blocks while the queue holds {@code maxQueuedBytes}.
     *
     * @throws IOException if a frame of the current session could not be written (the connection broke)
     */
    public void enqueue(Frame f, Sent sent) throws IOException, InterruptedException {
        enqueueAll(List.of(f), List.of(sent), false);
    }

    /**
     * Queues {@code frames} (each told by the {@code sent} at its index) behind every frame queued before, at once;
     * blocks while the queue holds {@code maxQueuedBytes}. A burst of at most {@code inlineMaxBytes} that finds the
     * stage idle is written here, on the caller's thread, before this returns (a failed write surfaces at the next
     * enqueue, as on the stage's thread).
     *
     * @throws IOException if a frame of the current session could not be written (the connection broke)
     */
    public void enqueueAll(List<Frame> frames, List<Sent> sent) throws IOException, InterruptedException {
        enqueueAll(frames, sent, true);
    }

    private void enqueueAll(List<Frame> frames, List<Sent> sent, boolean mayInline) throws IOException, InterruptedException {
        long size = 0;
        for (Frame f : frames) size += f.payload().length;
        List<Item> items = new ArrayList<>(frames.size());
        lock.lockInterruptibly();
        try {
            long waitFrom = 0;
            while (true) {
                throwIfBroken();
                if (closed) throw new IOException("the ship stage is closed");
                if (queue.isEmpty() && !writing || queuedBytes + size <= maxQueuedBytes) break;
                if (waitFrom == 0) waitFrom = System.nanoTime();
                changed.await();
            }
            if (waitFrom != 0) blockedNanos += System.nanoTime() - waitFrom;
            for (int i = 0; i < frames.size(); i++) items.add(new Item(frames.get(i), session, sent.get(i)));
            queuedBytes += size;
            accepted += items.size();
            if (!(mayInline && queue.isEmpty() && !writing && size <= inlineMaxBytes)) {
                queue.addAll(items);
                changed.signalAll();
                return;
            }
            writing = true; // the stage's thread waits while this caller writes
            inlineBursts++;
        } finally {
            lock.unlock();
        }
        for (int i = 0; i < items.size(); i++) write(items.get(i), i == items.size() - 1, i == items.size() - 1);
    }

    /** Whether frames queued so far are still waiting or being written (an epoch is still shipping). */
    public boolean busy() {
        lock.lock();
        try {
            return writing || !queue.isEmpty();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Waits up to {@code timeout} until every frame queued before this call is written or dropped.
     *
     * @return whether they were
     */
    public boolean awaitSent(Duration timeout) throws InterruptedException {
        long giveUp = System.nanoTime() + timeout.toNanos();
        lock.lockInterruptibly();
        try {
            long target = accepted;
            while (done < target) {
                long left = giveUp - System.nanoTime();
                if (left <= 0) return false;
                changed.awaitNanos(left);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * A new connection: drops what is queued, waits for a write in progress to end (it fails on the closed old
     * connection), and lets frames queued from now on go to the new one.
     */
    public void reset() throws InterruptedException {
        lock.lockInterruptibly();
        try {
            session++;
            dropQueued();
            while (writing) changed.await();
        } finally {
            lock.unlock();
        }
    }

    /** When a frame last reached the wire ({@link System#nanoTime()}): a long ship is progress, not silence. */
    public long lastWrittenNanos() {
        return lastWrittenNanos;
    }

    /** Figures for status: bytes queued now, frames written, flushes, and the producer's time blocked on the bound. */
    public io.checkpointd.protocol.status.Json status() {
        lock.lock();
        try {
            return io.checkpointd.protocol.status.Json.object().put("queuedBytes", queuedBytes).put("maxQueuedBytes", maxQueuedBytes)
                    .put("framesWritten", framesWritten).put("flushes", flushes).put("blockedMs", blockedNanos / 1_000_000)
                    .put("inlineBursts", inlineBursts);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            dropQueued();
        } finally {
            lock.unlock();
        }
        thread.interrupt();
        try {
            thread.join(TimeUnit.SECONDS.toMillis(3));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void run() {
        while (true) {
            Item item;
            boolean flush;
            lock.lock();
            try {
                // writing with an empty queue: a caller writes its burst inline; its frames go first
                while ((queue.isEmpty() || writing) && !closed) changed.awaitUninterruptibly();
                if (closed) return;
                item = queue.pollFirst();
                flush = queue.isEmpty();
                writing = true;
            } finally {
                lock.unlock();
            }
            if (!write(item, flush, true)) return;
        }
    }

    /**
     * Writes one frame taken from the queue (or an inline burst) and accounts for it; {@code last}: the writer's
     * turn ends with it.
     *
     * @return false once the stage is closed
     */
    private boolean write(Item item, boolean flush, boolean last) {
        int wireBytes = -1;
        IOException error = null;
        try {
            if (item.session() == currentSession()) wireBytes = wire.send(item.frame(), flush);
        } catch (IOException e) {
            error = e;
        } catch (InterruptedException e) {
            error = new IOException("interrupted while sending");
            if (Thread.currentThread() != thread) Thread.currentThread().interrupt(); // an inline caller's interrupt is its own
        } catch (RuntimeException e) {
            error = new IOException("sending failed: " + e, e);
        }
        if (wireBytes >= 0) {
            lastWrittenNanos = System.nanoTime();
            item.sent().sent(wireBytes);
        }
        lock.lock();
        try {
            if (last) writing = false;
            queuedBytes -= item.frame().payload().length;
            done++;
            if (wireBytes >= 0) {
                framesWritten++;
                if (flush) flushes++;
            }
            if (error != null && item.session() == session) {
                broken = session;
                failure = error;
                dropQueued();
            }
            changed.signalAll();
            return !closed;
        } finally {
            lock.unlock();
        }
    }

    private long currentSession() {
        lock.lock();
        try {
            return broken == session ? -1 : session;
        } finally {
            lock.unlock();
        }
    }

    private void throwIfBroken() throws IOException {
        if (broken == session) throw new IOException("shipping failed: " + failure.getMessage(), failure);
    }

    /** Under the lock: every queued frame counts as done without being written. */
    private void dropQueued() {
        for (Item i : queue) queuedBytes -= i.frame().payload().length;
        done += queue.size();
        queue.clear();
        changed.signalAll();
    }
}
