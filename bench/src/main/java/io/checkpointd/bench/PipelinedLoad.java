package io.checkpointd.bench;

import io.checkpointd.demo.LatencyRecorder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Open-window load for throughput: {@code connections} connections, each keeping {@code window} PUTs outstanding
 * (the KV protocol answers a connection's requests in order, so a client may pipeline them and match replies by
 * position). A new PUT is sent as soon as a reply comes back, so the offered concurrency is
 * {@code connections × window} whatever the latency: with output commit holding every reply for an epoch or two,
 * throughput is then outstanding requests ÷ latency (Little's law), which is how Remus measured it, instead of
 * one request per epoch per synchronous client.
 *
 * <p>Connection {@code c} writes keys {@code p<c>-k<i % keys>} with value {@code i}, as {@code KvWorkload} does,
 * so the service's data stays the same size at every level. Latency is from writing a request into the send buffer
 * to reading its reply. At most two selector threads (connections split between them) keep the generator's own
 * share of the 2 cores small; {@link #cpuNanos()} says what it used.
 */
final class PipelinedLoad implements AutoCloseable {
    /** {@code connections × window} outstanding PUTs. */
    record Level(int connections, int window) {
        static Level parse(String s) {
            String[] p = s.trim().split("x");
            if (p.length != 2) throw new IllegalArgumentException("level must be CONNECTIONSxWINDOW, not " + s);
            int c = Integer.parseInt(p[0]), w = Integer.parseInt(p[1]);
            if (c < 1 || w < 1) throw new IllegalArgumentException("level " + s + ": both must be >= 1");
            return new Level(c, w);
        }

        int outstanding() {
            return connections * window;
        }

        @Override
        public String toString() {
            return connections + "×" + window;
        }
    }

    private static final int KEYS = 100;

    private final LatencyRecorder latency = new LatencyRecorder();
    private final AtomicLong errors = new AtomicLong();
    private final AtomicLong rejected = new AtomicLong();
    private final List<Loop> loops = new ArrayList<>();
    private volatile boolean stop;

    private PipelinedLoad() {
    }

    /** Connects every connection (blocking, so a refused target fails here) and starts sending. */
    static PipelinedLoad start(InetSocketAddress target, Level level) throws IOException {
        PipelinedLoad load = new PipelinedLoad();
        int threads = Math.min(2, level.connections());
        try {
            for (int t = 0; t < threads; t++) load.loops.add(load.new Loop(t));
            for (int c = 0; c < level.connections(); c++) {
                SocketChannel ch = SocketChannel.open();
                Loop l = load.loops.get(c % threads);
                try {
                    ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    ch.connect(target);
                    ch.configureBlocking(false);
                } catch (IOException e) {
                    ch.close();
                    throw e;
                }
                l.conns.add(new Conn(ch, c, level.window()));
            }
        } catch (IOException | RuntimeException e) {
            load.close();
            throw e;
        }
        for (Loop l : load.loops) l.thread.start();
        return load;
    }

    LatencyRecorder latency() {
        return latency;
    }

    /** Connections that failed (each stops sending). */
    long errors() {
        return errors.get();
    }

    /** Replies other than OK. */
    long rejected() {
        return rejected.get();
    }

    /** CPU time of the generator's threads so far. */
    long cpuNanos() {
        java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
        long sum = 0;
        for (Loop l : loops) sum += Math.max(0, mx.getThreadCpuTime(l.thread.getId()));
        return sum;
    }

    @Override
    public void close() {
        stop = true;
        for (Loop l : loops) {
            l.selector.wakeup();
            if (l.thread.isAlive()) {
                try {
                    l.thread.join(5000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            l.closeAll();
        }
    }

    /** One connection: a FIFO of send times of the outstanding requests, a send and a receive buffer. */
    private static final class Conn {
        final SocketChannel ch;
        final byte[] prefix;
        final long[] sentAt;
        final ByteBuffer in = ByteBuffer.allocateDirect(64 * 1024);
        final ByteBuffer out;
        int head, outstanding;
        long next;
        SelectionKey key;
        boolean lineIsOk = true;
        int lineLen;

        Conn(SocketChannel ch, int index, int window) {
            this.ch = ch;
            this.prefix = ("PUT p" + index + "-k").getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            this.sentAt = new long[window];
            this.out = ByteBuffer.allocateDirect(window * (prefix.length + 24) + 64);
        }

        /** Queues PUTs until {@code window} are outstanding. */
        void fill(long now) {
            while (outstanding < sentAt.length) {
                long i = next++;
                out.put(prefix);
                putAscii(out, i % KEYS);
                out.put((byte) ' ');
                putAscii(out, i);
                out.put((byte) '\n');
                sentAt[(head + outstanding) % sentAt.length] = now;
                outstanding++;
            }
        }

        private static void putAscii(ByteBuffer b, long v) {
            if (v >= 10) putAscii(b, v / 10);
            b.put((byte) ('0' + (v % 10)));
        }
    }

    private final class Loop implements Runnable {
        final Selector selector;
        final Thread thread;
        final List<Conn> conns = new ArrayList<>();

        Loop(int index) throws IOException {
            selector = Selector.open();
            thread = new Thread(this, "pipelined-load-" + index);
            thread.setDaemon(true);
        }

        @Override
        public void run() {
            try {
                long now = System.nanoTime();
                for (Conn c : conns) {
                    c.key = c.ch.register(selector, SelectionKey.OP_READ, c);
                    c.fill(now);
                    flush(c);
                }
                while (!stop) {
                    selector.select(100);
                    now = System.nanoTime();
                    var it = selector.selectedKeys().iterator();
                    while (it.hasNext()) {
                        SelectionKey k = it.next();
                        it.remove();
                        Conn c = (Conn) k.attachment();
                        try {
                            if (k.isValid() && k.isReadable()) read(c, now);
                            if (k.isValid()) {
                                c.fill(now);
                                flush(c);
                            }
                        } catch (IOException e) {
                            errors.incrementAndGet();
                            k.cancel();
                            try {
                                c.ch.close();
                            } catch (IOException ignored) {
                                // dropping it
                            }
                        }
                    }
                }
            } catch (IOException e) {
                errors.incrementAndGet();
            }
        }

        private void read(Conn c, long now) throws IOException {
            int n = c.ch.read(c.in);
            if (n < 0) throw new IOException("service closed the connection");
            c.in.flip();
            while (c.in.hasRemaining()) {
                byte b = c.in.get();
                if (b == '\n') {
                    if (c.outstanding == 0) throw new IOException("reply without a request");
                    if (!(c.lineIsOk && c.lineLen == 2)) rejected.incrementAndGet();
                    latency.record(now - c.sentAt[c.head]);
                    c.head = (c.head + 1) % c.sentAt.length;
                    c.outstanding--;
                    c.lineIsOk = true;
                    c.lineLen = 0;
                } else {
                    // "OK" is the only good reply to a PUT
                    if (c.lineLen >= 2 || b != (c.lineLen == 0 ? 'O' : 'K')) c.lineIsOk = false;
                    c.lineLen++;
                }
            }
            c.in.clear();
        }

        private void flush(Conn c) throws IOException {
            c.out.flip();
            c.ch.write(c.out);
            c.out.compact();
            c.key.interestOps(c.out.position() > 0 ? SelectionKey.OP_READ | SelectionKey.OP_WRITE : SelectionKey.OP_READ);
        }

        void closeAll() {
            for (Conn c : conns) {
                try {
                    c.ch.close();
                } catch (IOException ignored) {
                    // closing anyway
                }
            }
            try {
                selector.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }
}
