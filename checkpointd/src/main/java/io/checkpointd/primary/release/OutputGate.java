package io.checkpointd.primary.release;

import io.checkpointd.protocol.auth.ChannelKey;
import io.checkpointd.protocol.control.ControlRejectedException;
import io.checkpointd.protocol.control.ProxyControlClient;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The primary's side of output commit: its control connection to the buffer proxy. It seals an epoch while the
 * process is frozen, releases it once the backup acknowledged it, and switches the generation's output between
 * held and passed through (backup lost / back). Without a proxy the gate is disabled and every call is a no-op:
 * output is then not held at all.
 */
public final class OutputGate implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(OutputGate.class);
    static final Duration CONTROL_TIMEOUT = Duration.ofSeconds(2);
    /** The service is frozen while it waits for SEALED: a healthy proxy answers in well under a millisecond. */
    static final Duration SEAL_TIMEOUT = Duration.ofMillis(500);

    private final InetSocketAddress control;
    private final ChannelKey key;
    private final long generation;
    private volatile ProxyControlClient proxy;
    /** Hears that the proxy holds output of an open epoch of this generation (OUTPUT_HELD). */
    private volatile java.util.function.LongConsumer outputHeld = e -> { };

    /** @param control the proxy's control address, or null for no output commit */
    public OutputGate(InetSocketAddress control, ChannelKey key, long generation) {
        this.control = control;
        this.key = key;
        this.generation = generation;
    }

    public boolean enabled() {
        return control != null;
    }

    /**
     * Makes sure the control connection is up. Called before each freeze: an unreachable proxy must cost a connect
     * timeout while the service runs, not while it is frozen.
     */
    public void connect() throws IOException {
        if (!enabled() || proxy != null) return;
        ProxyControlClient p = ProxyControlClient.connect(control, key, CONTROL_TIMEOUT);
        p.onOutputHeld((g, e) -> {
            if (g == generation) outputHeld.accept(e);
        });
        proxy = p;
    }

    /**
     * Hands {@code l} the epoch of every OUTPUT_HELD the proxy sends for this generation: output of that epoch waits
     * for its seal. Called on the control connection's reader thread.
     */
    public void onOutputHeld(java.util.function.LongConsumer l) {
        outputHeld = l;
    }

    /** GENERATION: this primary's generation is new to the proxy (from an arbiter): older output is dropped. */
    public void announce(InetSocketAddress service) throws IOException {
        if (!enabled()) return;
        connect();
        proxy.generation(generation, service, CONTROL_TIMEOUT);
    }

    /** SEAL: output read from now on belongs to later epochs. A broken connection is dropped, reconnected next time. */
    public void seal(long epoch) throws IOException {
        sealAwait(sealStart(epoch));
    }

    /**
     * SEAL in two halves: sent now, awaited by {@link #sealAwait}, so the proxy's answer travels while the pause goes
     * on. Returns null when there is no proxy. A broken connection is dropped, reconnected next time.
     */
    public ProxyControlClient.Sealing sealStart(long epoch) throws IOException {
        if (!enabled()) return null;
        connect();
        try {
            return proxy.sealStart(generation, epoch);
        } catch (IOException e) {
            drop();
            throw e;
        }
    }

    /** Waits for the SEALED of {@code s} (from {@link #sealStart}; null: nothing to wait for). */
    public void sealAwait(ProxyControlClient.Sealing s) throws IOException {
        if (s == null) return;
        try {
            s.await(SEAL_TIMEOUT);
        } catch (ControlRejectedException e) {
            throw e; // the proxy is fine; it refuses us (e.g. a newer generation took over)
        } catch (IOException e) {
            drop();
            throw e;
        }
    }

    /** RELEASE: the backup acknowledged {@code epoch}; pipelined, errors are logged (a later release covers it). */
    public void release(long epoch) {
        ProxyControlClient p = proxy;
        if (p == null) return;
        try {
            p.release(generation, epoch);
        } catch (IOException e) {
            log.error("could not release epoch {} at the proxy: {}", epoch, e.getMessage());
        }
    }

    /** Waits up to {@code timeout} until the proxy answered every release sent so far (a fault point's wait). */
    public void sync(Duration timeout) throws IOException {
        ProxyControlClient p = proxy;
        if (p != null) p.sync(timeout);
    }

    /** PASSTHROUGH: release output at once (unprotected). */
    public void passthrough() throws IOException {
        if (!enabled()) return;
        connect();
        proxy.passthrough(generation, CONTROL_TIMEOUT);
    }

    /** HOLD: protected again; output from now on waits for its epoch's release. */
    public void hold() throws IOException {
        if (!enabled()) return;
        connect();
        proxy.hold(generation, CONTROL_TIMEOUT);
    }

    private void drop() {
        ProxyControlClient broken = proxy;
        proxy = null;
        if (broken == null) return;
        try {
            broken.close();
        } catch (IOException ignored) {
            // the connection is already broken
        }
    }

    @Override
    public void close() {
        drop();
    }
}
