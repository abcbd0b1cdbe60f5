package io.checkpointd.demo;

import java.io.IOException;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

/**
 * One event-loop thread of a {@link KvServer}: owns a selector and every connection registered with it. The
 * selector blocks without a timeout, so nothing here depends on the clock.
 */
final class KvEventLoop implements Runnable {
    final Selector selector;
    final Thread thread;
    final KvStore store;
    final AtomicInteger connections = new AtomicInteger();
    // one decoder per loop: decoders are stateful and not thread-safe; REPORT so bad UTF-8 is an ERR
    final CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);
    private final Queue<SocketChannel> incoming = new ConcurrentLinkedQueue<>();
    private final BooleanSupplier closed;

    /** A daemon thread named {@code kv-worker-<index>}, not started; it ends once {@code closed} turns true. */
    KvEventLoop(int index, KvStore store, BooleanSupplier closed) throws IOException {
        this.selector = Selector.open();
        this.store = store;
        this.closed = closed;
        this.thread = new Thread(this, "kv-worker-" + index);
        thread.setDaemon(true);
    }

    /** Hands a new connection to this loop (from the acceptor thread). */
    void hand(SocketChannel ch) {
        incoming.add(ch);
        selector.wakeup();
    }

    @Override
    public void run() {
        try {
            while (!closed.getAsBoolean()) {
                selector.select();
                registerIncoming();
                var it = selector.selectedKeys().iterator();
                while (it.hasNext()) {
                    SelectionKey key = it.next();
                    it.remove();
                    KvConnection c = (KvConnection) key.attachment();
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
                KvServer.closeQuietly(key.channel());
            }
            closeIncoming();
            KvServer.closeQuietly(selector);
            connections.set(0);
        }
    }

    /**
     * Closes connections handed over but not registered. The server calls it again once the acceptor has ended: a
     * connection accepted as the server closed may be handed after this loop's last look.
     */
    void closeIncoming() {
        SocketChannel ch;
        while ((ch = incoming.poll()) != null) {
            KvServer.closeQuietly(ch);
        }
    }

    private void registerIncoming() {
        SocketChannel ch;
        while ((ch = incoming.poll()) != null) {
            try {
                KvConnection c = new KvConnection(this, ch);
                c.key = ch.register(selector, SelectionKey.OP_READ, c);
                connections.incrementAndGet();
            } catch (IOException | RuntimeException e) {
                KvServer.closeQuietly(ch);
            }
        }
    }
}
