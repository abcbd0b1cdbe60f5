package io.checkpointd.protocol.auth;

import io.netty.channel.Channel;
import io.netty.util.concurrent.Future;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bounds on one listener's connections that have not yet authenticated, so a peer that opens many and sends
 * nothing cannot exhaust the daemon or lock out the real peers:
 * <ul>
 *   <li>a deadline: a connection not authenticated within it is closed;</li>
 *   <li>per source address, at most {@code maxPerSource} at once: a further one from the same address is closed
 *       at once (the flooder's own new connections are the ones that lose);</li>
 *   <li>per listener, at most {@code maxPending} at once: a new connection then closes the oldest pending one, so
 *       a peer that arrives later still gets its turn, however many addresses the flood comes from.</li>
 * </ul>
 * Thread-safe: {@link #admit} may be called from any event loop.
 */
public final class PreAuthGate {
    private static final Logger log = LoggerFactory.getLogger(PreAuthGate.class);
    public static final int DEFAULT_MAX_PENDING = PreAuthLimits.DEFAULT.maxPending();
    public static final int DEFAULT_MAX_PER_SOURCE = PreAuthLimits.DEFAULT.maxPerSource();
    public static final Duration DEFAULT_DEADLINE = PreAuthLimits.DEFAULT.deadline();
    private static final long LOG_EVERY_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final String listener;
    private final int maxPending;
    private final int maxPerSource;
    private final Duration deadline;
    /** Pending connections, oldest first. Guarded by this. */
    private final LinkedHashMap<Channel, InetAddress> pending = new LinkedHashMap<>();
    /** Pending connections per source address. Guarded by this. */
    private final Map<InetAddress, Integer> perSource = new HashMap<>();
    private long refused;
    private long lastLog = System.nanoTime() - LOG_EVERY_NANOS;

    public PreAuthGate(String listener, int maxPending, int maxPerSource, Duration deadline) {
        if (maxPending < 1 || maxPerSource < 1) throw new IllegalArgumentException("limits must be at least 1");
        this.listener = listener;
        this.maxPending = maxPending;
        this.maxPerSource = maxPerSource;
        this.deadline = deadline;
    }

    public PreAuthGate(String listener, PreAuthLimits limits) {
        this(listener, limits.maxPending(), limits.maxPerSource(), limits.deadline());
    }

    /** The defaults ({@link PreAuthLimits#DEFAULT}): 64 pending, 8 per address, 10 s. */
    public static PreAuthGate standard(String listener) {
        return new PreAuthGate(listener, PreAuthLimits.DEFAULT);
    }

    /**
     * Counts a newly accepted channel until its {@link AuthHandshake#ready} completes or it closes; call from the
     * child initializer after {@link AuthHandshake#install}. May close it, or the oldest pending one, at once.
     */
    public void admit(Channel ch) {
        InetAddress source = address(ch.remoteAddress());
        Channel evicted = null;
        synchronized (this) {
            if (perSource.getOrDefault(source, 0) >= maxPerSource) {
                refused++;
                note("refused a connection from " + source + " on " + listener + ": it already has " + maxPerSource
                        + " connections authenticating");
                ch.close();
                return;
            }
            if (pending.size() >= maxPending) {
                Iterator<Map.Entry<Channel, InetAddress>> oldest = pending.entrySet().iterator();
                Map.Entry<Channel, InetAddress> e = oldest.next();
                evicted = e.getKey();
                oldest.remove();
                decrement(e.getValue());
                refused++;
                note(maxPending + " connections are authenticating on " + listener + ": dropped the oldest, from " + e.getValue());
            }
            pending.put(ch, source);
            perSource.merge(source, 1, Integer::sum);
        }
        if (evicted != null) evicted.close();
        Future<FrameAuth> ready = AuthHandshake.ready(ch);
        ready.addListener(f -> release(ch));
        ch.closeFuture().addListener(f -> release(ch));
        ch.eventLoop().schedule(() -> {
            if (!ready.isDone()) {
                synchronized (this) {
                    refused++;
                    note("closed " + ch.remoteAddress() + " on " + listener + ": not authenticated within " + deadline.toMillis() + " ms");
                }
                ch.close();
            }
        }, deadline.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Connections authenticating now. */
    public synchronized int pending() {
        return pending.size();
    }

    /** Connections closed by a bound so far. */
    public synchronized long refused() {
        return refused;
    }

    private synchronized void release(Channel ch) {
        InetAddress source = pending.remove(ch);
        if (source != null) decrement(source);
    }

    private void decrement(InetAddress source) {
        perSource.computeIfPresent(source, (k, n) -> n <= 1 ? null : n - 1);
    }

    /** Logs at most one line per 10 s, with the count since: a flood must not flood the log too. */
    private void note(String what) {
        long now = System.nanoTime();
        if (now - lastLog >= LOG_EVERY_NANOS) {
            lastLog = now;
            log.warn("{} ({} connections closed by the pre-authentication bounds so far)", what, refused);
        }
    }

    private static InetAddress address(SocketAddress a) {
        return a instanceof InetSocketAddress i ? i.getAddress() : InetAddress.getLoopbackAddress();
    }
}
