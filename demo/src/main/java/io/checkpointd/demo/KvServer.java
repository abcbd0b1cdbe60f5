package io.checkpointd.demo;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Objects;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
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
    private static final int OUT_BUFFER_BYTES = 64 * 1024;

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
    private final Loop[] loops;
    private final Thread acceptor;
    private final AtomicInteger nextLoop = new AtomicInteger();
    private volatile boolean closed;

    private KvServer(Config config) throws IOException {
        this.config = config;
        ServerSocketChannel ch = ServerSocketChannel.open();
        Loop[] created = new Loop[config.workers()];
        try {
            // restart (or restore) on the same port while old connections sit in TIME_WAIT
            ch.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            ch.bind(new InetSocketAddress(config.host(), config.port()), 1024);
            this.address = (InetSocketAddress) ch.getLocalAddress();
            for (int i = 0; i < created.length; i++) {
                created[i] = new Loop(i);
            }
        } catch (IOException | RuntimeException e) {
            closeQuietly(ch);
            for (Loop l : created) {
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
        for (Loop l : server.loops) {
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
        for (Loop l : loops) {
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
        for (Loop l : loops) {
            l.selector.wakeup();
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        join(acceptor, deadline);
        for (Loop l : loops) {
            join(l.thread, deadline);
        }
    }

    /** Blocks until the server is closed (used by {@link #main}, whose threads are daemons). */
    public void awaitTermination() throws InterruptedException {
        acceptor.join();
        for (Loop l : loops) {
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

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // dropping it anyway
        }
    }

    /** One event-loop thread: owns a selector and every connection registered with it. */
    private final class Loop implements Runnable {
        final Selector selector;
        final Thread thread;
        final Queue<SocketChannel> incoming = new ConcurrentLinkedQueue<>();
        final AtomicInteger connections = new AtomicInteger();
        // one decoder per loop: decoders are stateful and not thread-safe; REPORT so bad UTF-8 is an ERR
        final CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);

        Loop(int index) throws IOException {
            this.selector = Selector.open();
            this.thread = new Thread(this, "kv-worker-" + index);
            thread.setDaemon(true);
        }

        void hand(SocketChannel ch) {
            incoming.add(ch);
            selector.wakeup();
        }

        @Override
        public void run() {
            try {
                while (!closed) {
                    // no timeout: nothing here depends on the clock
                    selector.select();
                    registerIncoming();
                    var it = selector.selectedKeys().iterator();
                    while (it.hasNext()) {
                        SelectionKey key = it.next();
                        it.remove();
                        Connection c = (Connection) key.attachment();
                        try {
                            if (!key.isValid()) {
                                c.close();
                            } else if (key.isWritable()) {
                                c.onWritable();
                            } else if (key.isReadable()) {
                                c.onReadable();
                            }
                        } catch (IOException | RuntimeException e) {
                            // broken peer, reset after restore, or a bug in one request: drop the
                            // connection, never the loop
                            c.close();
                        }
                    }
                }
            } catch (IOException | ClosedSelectorException e) {
                // selector unusable: nothing left to serve on this loop
            } finally {
                for (SelectionKey key : selector.keys()) {
                    closeQuietly(key.channel());
                }
                SocketChannel ch;
                while ((ch = incoming.poll()) != null) {
                    closeQuietly(ch);
                }
                closeQuietly(selector);
                connections.set(0);
            }
        }

        private void registerIncoming() {
            SocketChannel ch;
            while ((ch = incoming.poll()) != null) {
                try {
                    Connection c = new Connection(this, ch);
                    c.key = ch.register(selector, SelectionKey.OP_READ, c);
                    connections.incrementAndGet();
                } catch (IOException | RuntimeException e) {
                    closeQuietly(ch);
                }
            }
        }
    }

    /**
     * One client connection. Only its loop thread touches it. {@code in} stays in fill mode between
     * calls; {@code out} holds replies not yet written. Backpressure: a request is only handled while
     * {@code out} has room for the largest reply, and reading stops while replies are pending, so a
     * client that pipelines without reading cannot make the server buffer without bound.
     */
    private final class Connection {
        final Loop loop;
        final SocketChannel ch;
        final ByteBuffer in = ByteBuffer.allocate(KvProtocol.MAX_LINE_BYTES);
        final ByteBuffer out = ByteBuffer.allocate(OUT_BUFFER_BYTES);
        SelectionKey key;
        boolean discarding; // inside an over-long line: drop bytes up to the next newline
        boolean inputEnded; // peer half-closed: answer what we have, then close
        boolean open = true;

        Connection(Loop loop, SocketChannel ch) {
            this.loop = loop;
            this.ch = ch;
        }

        void onReadable() throws IOException {
            int n = ch.read(in);
            if (n < 0) {
                inputEnded = true;
            }
            pump();
        }

        void onWritable() throws IOException {
            pump();
        }

        /** Handles buffered requests and writes replies until blocked on the socket or out of input. */
        private void pump() throws IOException {
            while (true) {
                boolean moreToHandle = handleLines();
                out.flip();
                ch.write(out);
                out.compact();
                if (out.position() > 0) {
                    key.interestOps(SelectionKey.OP_WRITE); // socket full: stop reading until drained
                    return;
                }
                if (!moreToHandle) {
                    break;
                }
            }
            if (inputEnded) {
                close(); // everything received has been answered
            } else {
                key.interestOps(SelectionKey.OP_READ);
            }
        }

        /** Handles complete lines in {@code in}; true if it stopped for lack of room in {@code out}. */
        private boolean handleLines() {
            in.flip();
            try {
                while (in.hasRemaining()) {
                    if (out.remaining() < KvProtocol.MAX_REPLY_BYTES) {
                        return true;
                    }
                    int start = in.position();
                    int nl = indexOf(in, (byte) '\n', start, in.limit());
                    if (nl < 0) {
                        if (start == 0 && in.limit() == in.capacity()) {
                            // a full buffer without a newline: the line is too long to ever be valid
                            if (!discarding) {
                                reply("ERR line too long");
                            }
                            discarding = true;
                            in.position(in.limit());
                        } else if (inputEnded && !discarding) {
                            // unterminated last request before EOF: answer it anyway
                            handleLine(start, in.limit());
                            in.position(in.limit());
                        }
                        return false;
                    }
                    if (discarding) {
                        discarding = false; // end of the over-long line; already answered
                    } else {
                        handleLine(start, nl);
                    }
                    in.position(nl + 1);
                }
                return false;
            } finally {
                in.compact();
            }
        }

        private void handleLine(int from, int to) {
            if (to > from && in.get(to - 1) == '\r') {
                to--; // tolerate CRLF (telnet, nc -C)
            }
            String line;
            try {
                CharBuffer chars = loop.decoder.reset().decode(in.duplicate().position(from).limit(to));
                line = chars.toString();
            } catch (CharacterCodingException e) {
                reply("ERR invalid utf-8");
                return;
            }
            reply(execute(line));
        }

        private String execute(String line) {
            if (line.isEmpty()) {
                return "ERR empty request";
            }
            String[] parts = line.split(" ", -1);
            String cmd = parts[0];
            switch (cmd) {
                case "PUT": {
                    if (parts.length != 3) {
                        return "ERR usage: PUT <key> <value>";
                    }
                    String problem = KvProtocol.tokenProblem(parts[1], KvProtocol.MAX_KEY_BYTES);
                    if (problem == null) {
                        problem = KvProtocol.tokenProblem(parts[2], KvProtocol.MAX_VALUE_BYTES);
                    }
                    if (problem != null) {
                        return "ERR " + problem;
                    }
                    config.store().put(parts[1], parts[2]);
                    return "OK";
                }
                case "GET": {
                    if (parts.length != 2) {
                        return "ERR usage: GET <key>";
                    }
                    String problem = KvProtocol.tokenProblem(parts[1], KvProtocol.MAX_KEY_BYTES);
                    if (problem != null) {
                        return "ERR " + problem;
                    }
                    String v = config.store().get(parts[1]);
                    return v == null ? "NONE" : "VALUE " + v;
                }
                case "SIZE":
                    return parts.length == 1 ? "SIZE " + config.store().size() : "ERR usage: SIZE";
                case "PING":
                    return parts.length == 1 ? "PONG" : "ERR usage: PING";
                case "STATS":
                    return parts.length == 1
                            ? "STATS puts=" + config.store().puts() + " gets=" + config.store().gets()
                            : "ERR usage: STATS";
                default:
                    return "ERR unknown command";
            }
        }

        private void reply(String s) {
            out.put(KvProtocol.utf8(s));
            out.put((byte) '\n');
        }

        void close() {
            if (open) {
                open = false;
                loop.connections.decrementAndGet();
                if (key != null) {
                    key.cancel();
                }
                closeQuietly(ch);
            }
        }
    }

    private static int indexOf(ByteBuffer b, byte v, int from, int to) {
        for (int i = from; i < to; i++) {
            if (b.get(i) == v) {
                return i;
            }
        }
        return -1;
    }

    // ---------------------------------------------------------------------------------------------
    // standalone entry point

    /**
     * {@code --host H} (default 127.0.0.1), {@code --port P} (required; 0 = ephemeral),
     * {@code --workers N} (default 16), {@code --port-file F} (bound port written atomically, then
     * closed). Runs until killed. Exit status 2 on bad arguments, 1 if binding fails.
     */
    public static void main(String[] args) {
        String host = "127.0.0.1";
        Integer port = null;
        int workers = DEFAULT_WORKERS;
        Path portFile = null;
        boolean churn = false;
        try {
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                switch (a) {
                    case "--host" -> host = value(args, ++i, a);
                    case "--port" -> port = Integer.parseInt(value(args, ++i, a));
                    case "--workers" -> workers = Integer.parseInt(value(args, ++i, a));
                    case "--port-file" -> portFile = Path.of(value(args, ++i, a));
                    case "--churn" -> churn = true; // memory and thread churn for the incremental engine's oracle
                    case "-h", "--help" -> {
                        usage(System.out);
                        return;
                    }
                    default -> throw new IllegalArgumentException("unknown argument: " + a);
                }
            }
            if (port == null) {
                throw new IllegalArgumentException("--port is required");
            }
            new Config(host, port, workers, new KvStore()); // validate before binding
        } catch (IllegalArgumentException e) {
            System.err.println("KvServer: " + e.getMessage());
            usage(System.err);
            System.exit(2);
            return;
        }
        KvServer server;
        try {
            server = start(new Config(host, port, workers, new KvStore()));
            if (churn) Churn.start();
            if (portFile != null) {
                writePortFile(portFile, server.port());
            }
        } catch (IOException | UncheckedIOException e) {
            System.err.println("KvServer: " + e);
            System.exit(1);
            return;
        }
        try {
            server.awaitTermination();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Writes {@code port} to {@code file} atomically (temp file in the same directory, then rename) so
     * a reader never sees a partial number. Both files are closed on return: CRIU refuses to restore a
     * process holding a file open whose contents changed.
     */
    static void writePortFile(Path file, int port) throws IOException {
        Path abs = file.toAbsolutePath();
        Path tmp = Files.createTempFile(abs.getParent(), abs.getFileName() + ".", ".tmp");
        try {
            Files.writeString(tmp, port + "\n"); // opens, writes, closes
            Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static String value(String[] args, int i, String flag) {
        if (i >= args.length) {
            throw new IllegalArgumentException(flag + " needs a value");
        }
        return args[i];
    }

    private static void usage(PrintStream out) {
        out.println("usage: KvServer --port P [--host H] [--workers N] [--port-file F]");
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
