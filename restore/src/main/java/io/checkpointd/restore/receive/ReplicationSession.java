package io.checkpointd.restore.receive;

import io.checkpointd.linux.ReplyPathPriority;
import io.checkpointd.protocol.Frame;
import io.checkpointd.protocol.FrameType;
import io.checkpointd.protocol.ProtocolException;
import io.checkpointd.protocol.replication.EpochBegin;
import io.checkpointd.protocol.replication.EpochEnd;
import io.checkpointd.protocol.replication.Hello;
import io.checkpointd.protocol.replication.HelloOk;
import io.checkpointd.restore.store.EpochRejectedException;
import io.checkpointd.restore.store.GroupCommit;
import io.checkpointd.restore.store.ImageStore;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.DecoderException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One primary's replication connection. Frames are stamped for liveness on the event loop, then handled in order
 * on the store's single thread (disk work never delays the failure detector): HELLO, then per epoch
 * EPOCH_BEGIN, EPOCH_DATA…, EPOCH_END → verify and apply, ACK (or NACK with a reason; the committed image is
 * untouched). The ACK goes out at once ({@link AckMode#MEMORY}) or once the {@link GroupCommit} made the epoch durable
 * ({@link AckMode#DURABLE}); acks leave in epoch order either way. Anything out of protocol closes the connection;
 * the daemon keeps running.
 */
public final class ReplicationSession extends SimpleChannelInboundHandler<Frame> {
    private static final Logger log = LoggerFactory.getLogger(ReplicationSession.class);
    /** Prefix of a NACK reason that is the backup's own storage failing (disk full, read-only), not the epoch. */
    public static final String STORE_FAILURE = "backup store failure: ";
    /** Bound on payload bytes queued for the store thread before this connection stops reading (backpressure). */
    static final long MAX_PENDING_BYTES = 32L << 20, RESUME_PENDING_BYTES = 8L << 20;
    /** Epochs of at most this many captured bytes are handled at the reply path's real-time priority. */
    static final long REALTIME_MAX_BYTES = 4L << 20;

    /** What the daemon decides and observes about sessions. */
    public interface Listener {
        /** @return false if the generation is fenced: the session is refused */
        boolean admit(ReplicationSession session, Hello hello);

        void seen(ReplicationSession session);

        /**
         * @param commitNanos from EPOCH_BEGIN handled to the epoch committed
         * @param recordNanos of that, the store thread's time appending the epoch's records (decode, un-XOR, write)
         * @param durableNanos of that, the commit itself (verify, apply, fsync, rename, STATE)
         */
        void committed(ReplicationSession session, long epoch, long commitNanos, long recordNanos, long durableNanos, long bytes);

        void primaryExited(ReplicationSession session);

        void closed(ReplicationSession session);

        /** Whether acks must be held now (fault injection / tests). */
        boolean holdAcks();

        /** The highest committed epoch that may be acknowledged now (fault injection / tests); later acks wait. */
        default long ackUpTo() {
            return Long.MAX_VALUE;
        }

        /** Whether frames from the primary must be dropped unread now (fault injection: a partition). */
        default boolean dropFrames() {
            return false;
        }

        /** Whether an epoch beginning now must be acknowledged without being committed (fault injection: a loss). */
        default boolean ackWithoutCommit() {
            return false;
        }
    }

    private final ImageStore store;
    private final GroupCommit groupCommit;
    private final AckMode ackMode;
    private final ExecutorService storeThread;
    private final Listener listener;
    private final AtomicLong pendingBytes = new AtomicLong();
    private final java.util.ArrayDeque<Frame> heldAcks = new java.util.ArrayDeque<>();
    private volatile Channel channel;
    private volatile Hello hello;
    private ImageStore.EpochWriter writer;
    private long rejectedEpoch = -1;
    /** An epoch the ack-without-commit fault point is throwing away, or -1. */
    private long discardedEpoch = -1;
    private long epochBytes;
    private long epochStart;
    private long recordNanos;
    /** Whether this session last set the (shared) store thread real-time; null: not yet, so its first epoch sets it. */
    private Boolean storeRaised;
    /** Set (on the event loop) once the connection is being dropped for bad input. */
    private boolean dropped;

    public ReplicationSession(ImageStore store, GroupCommit groupCommit, AckMode ackMode, ExecutorService storeThread,
            Listener listener) {
        this.store = store;
        this.groupCommit = groupCommit;
        this.ackMode = ackMode;
        this.storeThread = storeThread;
        this.listener = listener;
    }

    public Hello hello() {
        return hello;
    }

    public Channel channel() {
        return channel;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        channel = ctx.channel();
        ctx.fireChannelActive();
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, Frame f) {
        if (listener.dropFrames()) return;
        if (hello != null) listener.seen(this);
        if (f.type() == FrameType.HEARTBEAT) return;
        long size = f.payload().length + 64L;
        if (pendingBytes.addAndGet(size) >= MAX_PENDING_BYTES) ctx.channel().config().setAutoRead(false);
        storeThread.execute(() -> {
            try {
                handle(f);
            } catch (ProtocolException | IllegalStateException e) {
                log.warn("dropping primary connection {}: {}", ctx.channel().remoteAddress(), e.getMessage());
                abortEpoch();
                ctx.close();
            } catch (Exception e) {
                log.error("replication session failed: {}", e.toString());
                abortEpoch();
                ctx.close();
            } finally {
                // a frame the store just handled is news from the primary too: while reading is paused for
                // backpressure, heartbeats wait in the socket, and a slow disk must not look like a dead primary
                if (hello != null) listener.seen(this);
                if (pendingBytes.addAndGet(-size) <= RESUME_PENDING_BYTES && ctx.channel().isOpen()
                        && !ctx.channel().config().isAutoRead() && !ctx.executor().isShuttingDown()) {
                    try {
                        ctx.channel().config().setAutoRead(true);
                    } catch (RejectedExecutionException e) {
                        // the daemon is closing its event loop: nothing more will be read anyway
                    }
                }
            }
        });
    }

    private void handle(Frame f) throws Exception {
        // no isActive() check: a frame read before the connection closed still counts (a primary sends
        // PRIMARY_EXIT and exits at once); the abort queued by channelInactive runs after it, in order
        if (hello == null) {
            if (f.type() != FrameType.HELLO) throw new ProtocolException("expected HELLO, got " + f.type());
            Hello h = Hello.decode(f.payload());
            if (h.generation() != f.generation()) throw new ProtocolException("HELLO generation mismatch");
            if (!listener.admit(this, h)) {
                log.warn("refusing primary of fenced generation {} from {}", h.generation(), channel.remoteAddress());
                channel.writeAndFlush(Frame.of(FrameType.FENCED, store.fencedGeneration(), store.committedEpoch()))
                        .addListener(x -> channel.close());
                return;
            }
            hello = h;
            log.info("primary of generation {} connected from {} (service pid {}, {})", h.generation(),
                    channel.remoteAddress(), h.servicePid(), h.serviceAddress());
            channel.writeAndFlush(new Frame(FrameType.HELLO_OK, h.generation(), 0,
                    new HelloOk(store.committedGeneration(), store.committedEpoch()).encode()));
            return;
        }
        if (f.generation() != hello.generation()) throw new ProtocolException("frame of generation " + f.generation() + " in a session of " + hello.generation());
        if (store.fencedGeneration() >= hello.generation()) {
            channel.writeAndFlush(Frame.of(FrameType.FENCED, store.fencedGeneration(), f.epoch())).addListener(x -> channel.close());
            return;
        }
        switch (f.type()) {
            case EPOCH_BEGIN -> begin(f);
            case EPOCH_DATA -> {
                if (f.epoch() == rejectedEpoch || f.epoch() == discardedEpoch) return;
                if (writer == null || writer.epoch() != f.epoch()) throw new ProtocolException("EPOCH_DATA for epoch " + f.epoch() + " outside its epoch");
                epochBytes += f.payload().length;
                long t0 = System.nanoTime();
                try {
                    writer.add(f.payload());
                    recordNanos += System.nanoTime() - t0;
                } catch (ProtocolException | EpochRejectedException e) {
                    reject(f.epoch(), e.getMessage()); // e.g. an XOR page on another base: the primary resyncs in full
                } catch (IOException e) {
                    reject(f.epoch(), STORE_FAILURE + e.getMessage());
                }
            }
            case EPOCH_END -> end(f);
            case PRIMARY_EXIT -> listener.primaryExited(this);
            default -> throw new ProtocolException("unexpected " + f.type() + " from a primary");
        }
    }

    private void begin(Frame f) throws Exception {
        if (writer != null) throw new ProtocolException("EPOCH_BEGIN " + f.epoch() + " while epoch " + writer.epoch() + " is open");
        EpochBegin b = EpochBegin.decode(f.payload());
        storePriority(b.capturedBytes());
        if (listener.ackWithoutCommit()) {
            discardedEpoch = f.epoch();
            return;
        }
        try {
            writer = store.begin(f.generation(), f.epoch(), b);
            rejectedEpoch = -1;
            epochBytes = 0;
            recordNanos = 0;
            epochStart = System.nanoTime();
        } catch (EpochRejectedException e) {
            rejectedEpoch = f.epoch();
            nack(f.epoch(), e.getMessage());
        } catch (IOException e) {
            // disk full, read-only, …: the primary is told; the committed image is untouched
            rejectedEpoch = f.epoch();
            nack(f.epoch(), STORE_FAILURE + e.getMessage());
        }
    }

    private void end(Frame f) throws Exception {
        if (f.epoch() == rejectedEpoch) {
            rejectedEpoch = -1;
            return;
        }
        if (f.epoch() == discardedEpoch) {
            discardedEpoch = -1;
            log.warn("fault point ack-without-commit: epoch {} acknowledged and thrown away", f.epoch());
            heldAcks.add(Frame.of(FrameType.ACK, f.generation(), f.epoch()));
            flushAcks();
            return;
        }
        if (writer == null || writer.epoch() != f.epoch()) throw new ProtocolException("EPOCH_END for epoch " + f.epoch() + " outside its epoch");
        ImageStore.EpochWriter w = writer;
        writer = null;
        long t0 = System.nanoTime();
        try {
            w.apply(EpochEnd.decode(f.payload()));
        } catch (EpochRejectedException | ProtocolException e) {
            nack(f.epoch(), e.getMessage());
            return;
        } catch (IOException e) {
            nack(f.epoch(), STORE_FAILURE + e.getMessage()); // commit aborted: nothing half-written counts
            return;
        }
        long now = System.nanoTime();
        listener.committed(this, f.epoch(), now - epochStart, recordNanos, now - t0, epochBytes);
        Frame ack = Frame.of(FrameType.ACK, f.generation(), f.epoch());
        if (ackMode == AckMode.MEMORY) {
            heldAcks.add(ack);
            flushAcks();
        }
        groupCommit.request(new GroupCommit.Done() {
            @Override
            public void durable(long durableEpoch) {
                if (ackMode == AckMode.DURABLE) storeThread.execute(() -> {
                    heldAcks.add(ack);
                    flushAcks();
                });
            }

            @Override
            public void failed(IOException e) {
                // memory mode: the ack is out, the epoch lives in memory until a later sync (or fence) succeeds
                if (ackMode == AckMode.DURABLE) storeThread.execute(() -> nack(ack.epoch(), STORE_FAILURE + e.getMessage()));
            }
        });
    }

    /**
     * The store thread is real-time ({@link ReplyPathPriority}) for epochs a reply may wait on, at normal priority
     * while it handles a large one (a full sync), which would otherwise hold a CPU from the host for seconds.
     */
    private void storePriority(long capturedBytes) {
        boolean raise = capturedBytes <= REALTIME_MAX_BYTES;
        if (storeRaised != null && raise == storeRaised) return;
        storeRaised = raise;
        if (raise) ReplyPathPriority.raise();
        else ReplyPathPriority.lower();
    }

    /**
     * Sends acks held so far, in order, unless the hold-acks fault point is active, and only as far as the ack-up-to
     * fault point allows; called after commits and periodically.
     */
    public void flushAcks() {
        if (listener.holdAcks()) return;
        long upTo = listener.ackUpTo();
        Frame a;
        while ((a = heldAcks.peek()) != null && a.epoch() <= upTo) channel.writeAndFlush(heldAcks.poll());
    }

    /** Schedules {@link #flushAcks()} on the store thread (where the ack queue lives). */
    public void flushAcksLater() {
        storeThread.execute(this::flushAcks);
    }

    private void reject(long epoch, String why) {
        abortEpoch();
        rejectedEpoch = epoch;
        nack(epoch, why);
    }

    private void nack(long epoch, String why) {
        log.warn("rejected epoch {}: {}", epoch, why);
        channel.writeAndFlush(new Frame(FrameType.NACK, hello.generation(), epoch, why.getBytes(StandardCharsets.UTF_8)));
    }

    private void abortEpoch() {
        if (writer != null) {
            writer.abort();
            writer = null;
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        storeThread.execute(this::abortEpoch);
        listener.closed(this);
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (dropped) return; // one line per dropped connection, whatever else fails while it closes
        dropped = true;
        Throwable c = cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
        log.warn("dropping replication connection from {}: {}", ctx.channel().remoteAddress(),
                c instanceof ProtocolException ? c.getMessage() : c.toString());
        ctx.close();
    }
}
