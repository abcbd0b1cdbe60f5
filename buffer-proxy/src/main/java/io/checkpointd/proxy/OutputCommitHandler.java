package io.checkpointd.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;

/**
 * Holds one client's service output until its epoch is released (output commit), then writes it in order.
 *
 * <p>Sits in the client channel's pipeline, which outlives the upstream connection: after the service closes, its
 * last output and the close itself still wait here for their epoch. The upstream side feeds it through
 * {@link #hold} and {@link #holdClose}. Released bytes are only written while the client is writable, so a slow
 * client keeps bytes held, and held bytes over the caps stop reads from the upstream (backpressure).
 */
final class OutputCommitHandler extends ChannelInboundHandlerAdapter {
    private final OutputCommit commit;
    private final HeldOutput held = new HeldOutput();
    private ChannelHandlerContext ctx;
    /** Where backpressure applies; null until connected. */
    private Channel upstream;
    private boolean paused;
    private boolean draining;
    /** Closed, discarded or removed: nothing more is held or written. */
    private boolean done;

    OutputCommitHandler(OutputCommit commit) {
        this.commit = commit;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        commit.register(this);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        finish();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        finish();
        ctx.fireChannelInactive();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable()) drain();
        ctx.fireChannelWritabilityChanged();
    }

    /** The upstream is connected; pausing it is how this handler pushes back. */
    void attachUpstream(Channel channel) {
        upstream = channel;
        if (paused) channel.config().setAutoRead(false);
    }

    /** Service output read now: tag it with the open epoch and hold it. Takes ownership of {@code data}. */
    void hold(ByteBuf data) {
        int n = data.readableBytes();
        if (done || n == 0) {
            if (done) commit.discarded(n);
            ReferenceCountUtil.release(data);
            return;
        }
        held.add(data, commit.openEpoch());
        commit.tagged(n);
        commit.held(n);
        commit.outputHeld();
        drain();
        if (!paused && (held.bytes() >= commit.perConnectionCap() || commit.overTotalCap())) pause();
    }

    /** The service closed its side: the client is closed once everything before it and its epoch are released. */
    void holdClose() {
        if (done) return;
        held.addClose(commit.openEpoch());
        commit.outputHeld();
        drain();
    }

    /** Writes the released prefix of the held output, as far as the client accepts it. */
    void drain() {
        // Flushing can fire channelWritabilityChanged synchronously, which calls back here; the outer call
        // re-checks writability after each flush, so the nested one has nothing to add.
        if (done || draining) return;
        draining = true;
        long freed = 0;
        boolean wrote = false;
        try {
            HeldOutput.Entry e;
            while ((e = held.peek()) != null && commit.isReleased(e.epoch())) {
                if (e.isClose()) {
                    held.poll();
                    finish();
                    // The empty write completes after every earlier write, so the close never cuts output short.
                    ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
                    wrote = false;
                    break;
                }
                if (!ctx.channel().isWritable()) {
                    if (!wrote) break; // channelWritabilityChanged resumes us
                    ctx.flush();
                    wrote = false;
                    continue;
                }
                held.poll();
                commit.heldFor(System.nanoTime() - e.heldAtNanos());
                freed += e.data().readableBytes();
                ctx.write(e.data(), ctx.voidPromise());
                wrote = true;
            }
            if (wrote) ctx.flush();
        } finally {
            draining = false;
        }
        if (freed > 0) {
            commit.held(-freed);
            commit.released(freed);
            maybeResume();
            commit.afterFree();
        }
    }

    /** Failover or shutdown: drop unreleased output and both connections now. */
    void discardAndClose() {
        finish();
        ctx.close();
        if (upstream != null) upstream.close();
    }

    void maybeResume() {
        if (!paused || held.bytes() >= commit.perConnectionCap() || commit.overTotalCap()) return;
        paused = false;
        commit.resumed(this);
        if (upstream != null) upstream.config().setAutoRead(true);
    }

    long heldBytes() {
        return held.bytes();
    }

    private void pause() {
        paused = true;
        commit.paused(this);
        if (upstream != null) upstream.config().setAutoRead(false);
    }

    /** Frees what is still held (counted as discarded) and leaves the proxy's bookkeeping; runs once. */
    private void finish() {
        if (done) return;
        done = true;
        long dropped = held.discard();
        commit.held(-dropped);
        commit.discarded(dropped);
        commit.unregister(this);
        commit.afterFree();
    }
}
