package io.checkpointd.proxy;

import io.checkpointd.protocol.auth.ChannelKey;
import io.checkpointd.protocol.auth.PreAuthLimits;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Objects;

/**
 * Configuration of a {@link BufferProxy}. Build with {@link #builder()}; ports may be 0 (see
 * {@link BufferProxy#listenAddress()} and {@link BufferProxy#controlAddress()}).
 *
 * @param listen              where clients connect
 * @param upstream            the service of the initial generation
 * @param control             where the primary and backup send control frames
 * @param initialGeneration   generation in force at start (default 1)
 * @param passthroughAtStart  start unprotected (output not held); default false: hold until a RELEASE
 * @param perConnectionCap    held bytes per connection before its upstream stops being read (default 8 MiB)
 * @param totalCap            held bytes over all connections before upstreams stop being read (default 256 MiB)
 * @param upstreamRetryWindow how long a new client waits for a refusing upstream before it is closed (default 10 s)
 * @param channelKey          authenticates the control port; required (no default: plain text must be chosen)
 * @param preAuth             bounds on the control port's connections not yet authenticated (default: {@link PreAuthLimits#DEFAULT})
 */
public record ProxyConfig(InetSocketAddress listen, InetSocketAddress upstream, InetSocketAddress control,
                          long initialGeneration, boolean passthroughAtStart, long perConnectionCap, long totalCap,
                          Duration upstreamRetryWindow, ChannelKey channelKey, PreAuthLimits preAuth) {
    public static final long DEFAULT_GENERATION = 1;
    public static final long DEFAULT_PER_CONNECTION_CAP = 8L << 20;
    public static final long DEFAULT_TOTAL_CAP = 256L << 20;
    public static final Duration DEFAULT_UPSTREAM_RETRY_WINDOW = Duration.ofSeconds(10);

    public ProxyConfig {
        Objects.requireNonNull(listen, "listen");
        Objects.requireNonNull(upstream, "upstream");
        Objects.requireNonNull(control, "control");
        Objects.requireNonNull(upstreamRetryWindow, "upstreamRetryWindow");
        Objects.requireNonNull(channelKey, "channelKey");
        Objects.requireNonNull(preAuth, "preAuth");
        if (initialGeneration < 0) throw new IllegalArgumentException("initialGeneration must be >= 0");
        if (perConnectionCap <= 0 || totalCap <= 0) throw new IllegalArgumentException("caps must be positive");
        if (upstreamRetryWindow.isNegative()) throw new IllegalArgumentException("upstreamRetryWindow is negative");
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Mutable builder; unset values take the defaults above. */
    public static final class Builder {
        private InetSocketAddress listen;
        private InetSocketAddress upstream;
        private InetSocketAddress control;
        private long initialGeneration = DEFAULT_GENERATION;
        private boolean passthroughAtStart;
        private long perConnectionCap = DEFAULT_PER_CONNECTION_CAP;
        private long totalCap = DEFAULT_TOTAL_CAP;
        private Duration upstreamRetryWindow = DEFAULT_UPSTREAM_RETRY_WINDOW;
        private ChannelKey channelKey;
        private PreAuthLimits preAuth = PreAuthLimits.DEFAULT;

        private Builder() {
        }

        public Builder listen(InetSocketAddress v) { listen = v; return this; }
        public Builder upstream(InetSocketAddress v) { upstream = v; return this; }
        public Builder control(InetSocketAddress v) { control = v; return this; }
        public Builder initialGeneration(long v) { initialGeneration = v; return this; }
        public Builder passthroughAtStart(boolean v) { passthroughAtStart = v; return this; }
        public Builder perConnectionCap(long v) { perConnectionCap = v; return this; }
        public Builder totalCap(long v) { totalCap = v; return this; }
        public Builder upstreamRetryWindow(Duration v) { upstreamRetryWindow = v; return this; }
        public Builder channelKey(ChannelKey v) { channelKey = v; return this; }
        public Builder preAuth(PreAuthLimits v) { preAuth = v; return this; }

        public ProxyConfig build() {
            return new ProxyConfig(listen, upstream, control, initialGeneration, passthroughAtStart, perConnectionCap,
                    totalCap, upstreamRetryWindow, channelKey, preAuth);
        }
    }
}
