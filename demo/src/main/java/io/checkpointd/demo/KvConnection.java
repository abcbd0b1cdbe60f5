package io.checkpointd.demo;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.nio.charset.CharacterCodingException;

/**
 * One client connection of a {@link KvServer}: splits the input into {@link KvProtocol} request lines and answers
 * each. Only its loop thread touches it. {@code in} stays in fill mode between calls; {@code out} holds replies not
 * yet written. Backpressure: a request is only handled while {@code out} has room for the largest reply, and
 * reading stops while replies are pending, so a client that pipelines without reading cannot make the server
 * buffer without bound.
 */
final class KvConnection {
    private static final int OUT_BUFFER_BYTES = 64 * 1024;

    private final KvEventLoop loop;
    private final SocketChannel ch;
    private final ByteBuffer in = ByteBuffer.allocate(KvProtocol.MAX_LINE_BYTES);
    private final ByteBuffer out = ByteBuffer.allocate(OUT_BUFFER_BYTES);
    SelectionKey key;
    private boolean discarding; // inside an over-long line: drop bytes up to the next newline
    private boolean inputEnded; // peer half-closed: answer what we have, then close
    private boolean open = true;

    KvConnection(KvEventLoop loop, SocketChannel ch) {
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
        reply(execute(loop.store, line));
    }

    /** The reply line to one request line (without its newline). */
    static String execute(KvStore store, String line) {
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
                store.put(parts[1], parts[2]);
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
                String v = store.get(parts[1]);
                return v == null ? "NONE" : "VALUE " + v;
            }
            case "SIZE":
                return parts.length == 1 ? "SIZE " + store.size() : "ERR usage: SIZE";
            case "PING":
                return parts.length == 1 ? "PONG" : "ERR usage: PING";
            case "STATS":
                return parts.length == 1
                        ? "STATS puts=" + store.puts() + " gets=" + store.gets()
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
            KvServer.closeQuietly(ch);
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
}
