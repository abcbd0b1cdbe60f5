package io.checkpointd.proxy;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.TreeMap;

/**
 * Proxy-wide output-commit state: the generation in force, its seal and release watermarks, hold or passthrough
 * mode, the live connections and the held-byte accounting behind the caps.
 *
 * <p>Confined to the proxy's single event loop (no locks): because every upstream read runs on the same thread,
 * {@link #seal} applies the epoch boundary to every connection at once simply by moving {@link #openEpoch()};
 * bytes read before it carry a tag &le; N, bytes read after carry N+1. Bytes the kernel buffered before the seal
 * but that we read after it are tagged N+1 too: later is always safe for output commit.
 *
 * <p>The request methods validate first and change nothing when they throw {@link RejectedRequest}.
 */
final class OutputCommit {
    /** Seals whose {@link #outputBytes} figure is kept: the unreleased ones and the last released, at most this many. */
    static final int SEAL_RECORDS = 256;

    private final long perConnectionCap;
    private final long totalCap;
    private final Set<OutputCommitHandler> connections = new LinkedHashSet<>();
    private final Set<OutputCommitHandler> paused = new LinkedHashSet<>();

    private long generation;
    private InetSocketAddress upstream;
    private boolean passthrough;
    /** -1: nothing sealed yet in this generation, so output read now is tagged 0. */
    private long lastSealed = -1;
    private long lastReleased = -1;

    private long heldBytes;
    /** Service output tagged in this generation, over all connections: what epochs up to the open one produced. */
    private long outputBytes;
    /** Epoch sealed in this generation → {@link #outputBytes} at its seal, i.e. the output tagged &le; that epoch. */
    private final TreeMap<Long, Long> outputBytesAtSeal = new TreeMap<>();
    private long releasedBytes;
    /** {@link #releasedBytes} when the current generation took over. */
    private long releasedBytesAtGeneration;
    private final java.util.List<ProxyStats.Superseded> superseded = new ArrayList<>();
    private long discardedBytes;
    private long rejected;
    /** Hears OUTPUT_HELD(open epoch): the control connection of this generation's last SEAL, or null. */
    private java.util.function.LongConsumer watcher;
    /** The last epoch announced to the watcher as holding output: one signal per epoch at most. */
    private long signalledEpoch = -1;
    private long outputHeldSignals;
    /** Each held chunk's time in the proxy, from read to written to its client (the reply's added delay), ms. */
    private final io.checkpointd.protocol.status.Window heldMs = new io.checkpointd.protocol.status.Window(4096);

    OutputCommit(long generation, InetSocketAddress upstream, boolean passthrough, long perConnectionCap,
                 long totalCap) {
        this.generation = generation;
        this.upstream = upstream;
        this.passthrough = passthrough;
        this.perConnectionCap = perConnectionCap;
        this.totalCap = totalCap;
    }

    /** The epoch that output read now belongs to: the one after the last seal. */
    long openEpoch() {
        return lastSealed + 1;
    }

    boolean isReleased(long epoch) {
        return passthrough || epoch <= lastReleased;
    }

    long generation() {
        return generation;
    }

    InetSocketAddress upstream() {
        return upstream;
    }

    long perConnectionCap() {
        return perConnectionCap;
    }

    boolean overTotalCap() {
        return heldBytes >= totalCap;
    }

    /**
     * SEAL from the control connection {@code from} (which then hears OUTPUT_HELD, see {@link #outputHeld}): output
     * read from now on belongs to a later epoch than {@code epoch}. Re-sealing the last epoch is a no-op.
     */
    void seal(long gen, long epoch, java.util.function.LongConsumer from) throws RejectedRequest {
        seal(gen, epoch);
        watcher = from;
    }

    /** The control connection {@code w} closed: it hears nothing more. */
    void unwatch(java.util.function.LongConsumer w) {
        if (watcher == w) watcher = null;
    }

    /**
     * Output (or the upstream's close) was just held in the open epoch: the first time in that epoch, tell the
     * primary, which may end the epoch early instead of at its interval. Later output in the same epoch needs no
     * signal (coalesced): the one epoch end releases it all.
     */
    void outputHeld() {
        long open = openEpoch();
        if (passthrough || watcher == null || open <= signalledEpoch) return;
        signalledEpoch = open;
        outputHeldSignals++;
        watcher.accept(open);
    }

    /** A held chunk was written to its client {@code nanos} after it was read from the service. */
    void heldFor(long nanos) {
        heldMs.add(nanos / 1e6);
    }

    /** SEAL: output read from now on belongs to a later epoch than {@code epoch}. Re-sealing the last epoch is a no-op. */
    void seal(long gen, long epoch) throws RejectedRequest {
        requireCurrent(gen);
        if (epoch < 0) throw new RejectedRequest("epoch " + epoch + " is negative");
        if (epoch < lastSealed) {
            throw new RejectedRequest("epoch " + epoch + " is older than the last sealed epoch " + lastSealed);
        }
        if (epoch > lastSealed) {
            // a re-seal moves no boundary, so the first seal's figure stays
            outputBytesAtSeal.put(epoch, outputBytes);
            if (outputBytesAtSeal.size() > SEAL_RECORDS) outputBytesAtSeal.pollFirstEntry();
        }
        lastSealed = epoch;
    }

    /** RELEASE: output tagged &le; {@code epoch} may reach clients. Only sealed epochs can be released. */
    void release(long gen, long epoch) throws RejectedRequest {
        requireCurrent(gen);
        if (epoch > lastSealed) {
            // Releasing an unsealed epoch would let output of a still-running epoch escape.
            throw new RejectedRequest("epoch " + epoch + " is not sealed (last sealed " + lastSealed + ")");
        }
        if (epoch <= lastReleased) return;
        lastReleased = epoch;
        outputBytesAtSeal.headMap(epoch).clear(); // older boundaries no longer tell anything about held output
        drainAll();
    }

    /** PASSTHROUGH: release everything now and stop holding output in this generation. */
    void passthrough(long gen) throws RejectedRequest {
        requireCurrent(gen);
        passthrough = true;
        drainAll();
    }

    /**
     * HOLD: protected again after a passthrough: output read from now on belongs to the open epoch and waits for its
     * RELEASE (what passed through meanwhile is gone: that was the unprotected window).
     */
    void hold(long gen) throws RejectedRequest {
        requireCurrent(gen);
        passthrough = false;
    }

    /** GENERATION: fence older output and route new clients to {@code newUpstream}, holding output again. */
    void newGeneration(long gen, InetSocketAddress newUpstream) throws RejectedRequest {
        if (gen < generation) throw new RejectedRequest("stale generation " + gen + " (current " + generation + ")");
        if (gen == generation) {
            if (newUpstream.equals(upstream)) return; // a retried announcement
            throw new RejectedRequest("generation " + gen + " is already routed to " + upstream);
        }
        superseded.add(new ProxyStats.Superseded(generation, lastSealed, lastReleased, passthrough,
                releasedBytes - releasedBytesAtGeneration));
        if (superseded.size() > 64) superseded.remove(0); // bounded; a status, not a log
        releasedBytesAtGeneration = releasedBytes;
        generation = gen;
        upstream = newUpstream;
        passthrough = false;
        lastSealed = -1;
        lastReleased = -1;
        outputBytes = 0;
        outputBytesAtSeal.clear();
        watcher = null;
        signalledEpoch = -1;
        closeAll();
    }

    /** Drops every connection and its unreleased output. */
    void closeAll() {
        for (OutputCommitHandler h : new ArrayList<>(connections)) h.discardAndClose();
    }

    void register(OutputCommitHandler h) {
        connections.add(h);
    }

    void unregister(OutputCommitHandler h) {
        connections.remove(h);
        paused.remove(h);
    }

    void paused(OutputCommitHandler h) {
        paused.add(h);
    }

    void resumed(OutputCommitHandler h) {
        paused.remove(h);
    }

    /** Service output of {@code bytes} was tagged with the open epoch. */
    void tagged(long bytes) {
        outputBytes += bytes;
    }

    void held(long delta) {
        heldBytes += delta;
    }

    void released(long bytes) {
        releasedBytes += bytes;
    }

    void discarded(long bytes) {
        discardedBytes += bytes;
    }

    void rejected() {
        rejected++;
    }

    /** After held bytes went down: connections paused only by the total cap may read again. */
    void afterFree() {
        if (overTotalCap() || paused.isEmpty()) return;
        for (OutputCommitHandler h : new ArrayList<>(paused)) h.maybeResume();
    }

    ProxyStats snapshot() {
        return new ProxyStats(generation, lastSealed, lastReleased, passthrough, connections.size(), heldBytes,
                releasedBytes, discardedBytes, rejected, superseded, outputBytes, outputBytesAtSeal, outputHeldSignals,
                heldMs.percentile(0.5), heldMs.percentile(0.99), heldMs.count());
    }

    private void drainAll() {
        for (OutputCommitHandler h : new ArrayList<>(connections)) h.drain();
        afterFree();
    }

    private void requireCurrent(long gen) throws RejectedRequest {
        if (gen < generation) throw new RejectedRequest("stale generation " + gen + " (current " + generation + ")");
        if (gen > generation) {
            throw new RejectedRequest("unknown generation " + gen + " (current " + generation + "); announce it first");
        }
    }
}
