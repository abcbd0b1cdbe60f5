package io.checkpointd.demo;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * TCP key-value server speaking the {@link KvProtocol line protocol}; the service checkpointd protects.
 *
 * <p>Threads: one acceptor (blocking {@code accept}) and a fixed pool of event loops, each owning a
 * {@link Selector} and the connections assigned to it round-robin. A fixed pool serves any number of
 * connections, and the JVM looks like a real multi-threaded service to the checkpointer.
 *
 * <p>Checkpoint/restore friendliness (CRIU): the process holds no file open for writing (the optional
 * port file is written, renamed and closed before serving), nothing waits on a wall-clock deadline
 * (selectors block without timeout, so a clock jump after a restore changes nothing), and any error on
 * a connection, such as an established socket that comes back closed after a restore, just drops that
 * connection. Nothing a client sends can stop the server: bad requests get {@code ERR <reason>}.
 *
 * <p>Run standalone: {@code java -cp tests.jar io.checkpointd.demo.KvServer --port P
 * [--host H] [--workers N] [--port-file F]}. It prints nothing unless the arguments are wrong.
 */
public final class KvServer implements AutoCloseable {
    /** Default number of event-loop threads. */
    public static final int DEFAULT_WORKERS = 16;

    /**
     * Server settings.
     *
     * @param host    address to bind, e.g. {@code 127.0.0.1}
     * @param port    port to bind; 0 picks an ephemeral port (see {@link KvServer#port()})
     * @param workers number of event-loop threads, at least 1
     * @param store   the data; pass an existing store to serve the same data again after a restart
     */
    public record Config(String host, int port, int workers, KvStore store) {
        /** Validates the settings. */
        public Config {
            Objects.requireNonNull(host, "host");
            Objects.requireNonNull(store, "store");
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("port out of range: " + port);
            }
            if (workers < 1) {
                throw new IllegalArgumentException("workers must be >= 1: " + workers);
            }
        }

        /** {@code host:port} with the default worker count and a fresh store. */
        public static Config of(String host, int port) {
            return new Config(host, port, DEFAULT_WORKERS, new KvStore());
        }
    }

    private final Config config;
    private final ServerSocketChannel listener;
    private final InetSocketAddress address;
    private final KvEventLoop[] loops;
    private final Thread acceptor;
    private final AtomicInteger nextLoop = new AtomicInteger();
    private volatile boolean closed;

    private KvServer(Config config) throws IOException {
        this.config = config;
        ServerSocketChannel ch = ServerSocketChannel.open();
        KvEventLoop[] created = new KvEventLoop[config.workers()];
        try {
            // restart (or restore) on the same port while old connections sit in TIME_WAIT
            ch.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            ch.bind(new InetSocketAddress(config.host(), config.port()), 1024);
            this.address = (InetSocketAddress) ch.getLocalAddress();
            for (int i = 0; i < created.length; i++) {
                created[i] = new KvEventLoop(i, config.store(), () -> closed);
            }
        } catch (IOException | RuntimeException e) {
            closeQuietly(ch);
            for (KvEventLoop l : created) {
                if (l != null) {
                    closeQuietly(l.selector);
                }
            }
            throw e;
        }
        this.loops = created;
        this.listener = ch;
        this.acceptor = new Thread(this::acceptLoop, "kv-acceptor-" + address.getPort());
        // daemon: an embedding test that forgets close() must not hang its JVM; main() joins explicitly
        acceptor.setDaemon(true);
    }

    /** Binds and starts serving; the returned server is ready to accept connections. */
    public static KvServer start(Config config) throws IOException {
        KvServer server = new KvServer(config);
        for (KvEventLoop l : server.loops) {
            l.thread.start();
        }
        server.acceptor.start();
        return server;
    }

    /** Binds {@code host:port} (0 = ephemeral) with defaults and starts serving. */
    public static KvServer start(String host, int port) throws IOException {
        return start(Config.of(host, port));
    }

    /** The bound address (with the real port when 0 was asked for). */
    public InetSocketAddress address() {
        return address;
    }

    /** The bound port. */
    public int port() {
        return address.getPort();
    }

    /** The data this server serves. */
    public KvStore store() {
        return config.store();
    }

    /** Number of connections currently open. */
    public int connectionCount() {
        int n = 0;
        for (KvEventLoop l : loops) {
            n += l.connections.get();
        }
        return n;
    }

    /**
     * Stops accepting, closes every connection and waits (bounded) for the threads to end. The store
     * is left intact. Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            listener.close(); // unblocks accept()
        } catch (IOException ignored) {
            // closing anyway
        }
        for (KvEventLoop l : loops) {
            l.selector.wakeup();
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        join(acceptor, deadline);
        for (KvEventLoop l : loops) {
            join(l.thread, deadline);
            l.closeIncoming();
        }
    }

    /** Blocks until the server is closed (used by {@link #main}, whose threads are daemons). */
    public void awaitTermination() throws InterruptedException {
        acceptor.join();
        for (KvEventLoop l : loops) {
            l.thread.join();
        }
    }

    private static void join(Thread t, long deadlineNanos) {
        long left = deadlineNanos - System.nanoTime();
        if (left <= 0 || Thread.currentThread() == t) {
            return;
        }
        try {
            t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void acceptLoop() {
        while (!closed) {
            SocketChannel ch;
            try {
                ch = listener.accept();
            } catch (ClosedChannelException e) {
                return; // close()
            } catch (IOException e) {
                // e.g. EMFILE: keep serving the connections we have, try again shortly.
                // Thread.sleep uses a monotonic clock, so a clock jump cannot stretch it.
                pause(10);
                continue;
            }
            try {
                ch.configureBlocking(false);
                // request/response with small messages: Nagle + delayed ACK would add ~40 ms per op
                ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
                loops[Math.floorMod(nextLoop.getAndIncrement(), loops.length)].hand(ch);
            } catch (IOException | RuntimeException e) {
                closeQuietly(ch);
            }
        }
    }

    private static void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // dropping it anyway
        }
    }

    // ---------------------------------------------------------------------------------------------
    // standalone entry point

    /**
     * {@code --host H} (default 127.0.0.1), {@code --port P} (required; 0 = ephemeral),
     * {@code --workers N} (default 16), {@code --port-file F} (bound port written atomically, then
     * closed). Runs until killed. Exit status 2 on bad arguments, 1 if binding fails.
     */
    public static void main(String[] args) {
        KvServerCli.run(args);
    }

    /** For diagnostics: the settings this server runs with. */
    public Config config() {
        return config;
    }

    @Override
    public String toString() {
        return "KvServer[" + address + ", workers=" + loops.length + (closed ? ", closed" : "") + "]";
    }
}
