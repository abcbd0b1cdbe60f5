package io.checkpointd.demo;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * One blocking connection to a {@link KvServer} (directly or through the checkpointd proxy).
 *
 * <p>Every call sends one request and waits for its reply, bounded by the read timeout. Connection
 * problems (refused, reset, EOF, timeout, garbled reply) surface as {@link IOException}; after one
 * the connection is unusable and the caller should close it and connect again. Not thread-safe: one
 * client per thread.
 */
public final class KvClient implements AutoCloseable {
    /** Default connect timeout. */
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(2);
    /** Default time to wait for a reply. */
    public static final Duration DEFAULT_READ_TIMEOUT = Duration.ofSeconds(5);
    // replies are at most MAX_REPLY_BYTES; anything longer means we are not talking to a KvServer
    private static final int MAX_REPLY_LINE = KvProtocol.MAX_REPLY_BYTES + 64;

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    private final ByteArrayOutputStream line = new ByteArrayOutputStream(64);

    private KvClient(Socket socket) throws IOException {
        this.socket = socket;
        this.in = new BufferedInputStream(socket.getInputStream(), 8192);
        this.out = new BufferedOutputStream(socket.getOutputStream(), 8192);
    }

    /** Connects with the default timeouts. */
    public static KvClient connect(InetSocketAddress address) throws IOException {
        return connect(address, DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT);
    }

    /**
     * Connects to {@code address}.
     *
     * @param connectTimeout bound on establishing the TCP connection
     * @param readTimeout    bound on waiting for each reply (SO_TIMEOUT)
     */
    public static KvClient connect(InetSocketAddress address, Duration connectTimeout, Duration readTimeout)
            throws IOException {
        Objects.requireNonNull(address, "address");
        Socket s = new Socket();
        try {
            // request/response with tiny messages: without this Nagle + delayed ACK add ~40 ms per op
            s.setTcpNoDelay(true);
            s.setSoTimeout(toMillis(readTimeout));
            s.connect(address, toMillis(connectTimeout));
            return new KvClient(s);
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    private static int toMillis(Duration d) {
        long ms = d.toMillis();
        if (ms <= 0) {
            throw new IllegalArgumentException("timeout must be positive: " + d);
        }
        return (int) Math.min(Integer.MAX_VALUE, ms);
    }

    /**
     * Stores {@code value} under {@code key}.
     *
     * @return true only if the server acknowledged with {@code OK}; false if it refused ({@code ERR})
     * @throws IOException on connection problems; the write may or may not have been applied
     * @throws IllegalArgumentException if key or value break the {@link KvProtocol} token rules
     */
    public boolean put(String key, String value) throws IOException {
        KvProtocol.checkKey(key);
        KvProtocol.checkValue(value);
        String reply = call("PUT " + key + " " + value);
        if (reply.equals("OK")) {
            return true;
        }
        if (reply.startsWith("ERR")) {
            return false;
        }
        throw new IOException("unexpected reply to PUT: " + abbreviate(reply));
    }

    /**
     * Reads {@code key}.
     *
     * @return the value, or empty if the key is absent
     * @throws IOException on connection problems or an unexpected reply
     */
    public Optional<String> get(String key) throws IOException {
        KvProtocol.checkKey(key);
        String reply = call("GET " + key);
        if (reply.equals("NONE")) {
            return Optional.empty();
        }
        if (reply.startsWith("VALUE ")) {
            return Optional.of(reply.substring("VALUE ".length()));
        }
        throw new IOException("unexpected reply to GET: " + abbreviate(reply));
    }

    /**
     * Reads {@code keys} pipelined: every request is sent before the first reply is read, so a batch costs one
     * round trip (through the output-commit proxy, one epoch) instead of one per key. Keep batches to a few
     * hundred keys so requests and replies fit the socket buffers.
     *
     * @return each key's value, or empty where the key is absent, in the order of {@code keys}
     * @throws IOException on connection problems or an unexpected reply
     */
    public List<Optional<String>> getAll(List<String> keys) throws IOException {
        for (String key : keys) {
            KvProtocol.checkKey(key);
            out.write(("GET " + key + "\n").getBytes(StandardCharsets.UTF_8));
        }
        out.flush();
        List<Optional<String>> values = new ArrayList<>(keys.size());
        for (int i = 0; i < keys.size(); i++) {
            String reply = readLine();
            if (reply.equals("NONE")) {
                values.add(Optional.empty());
            } else if (reply.startsWith("VALUE ")) {
                values.add(Optional.of(reply.substring("VALUE ".length())));
            } else {
                throw new IOException("unexpected reply to GET: " + abbreviate(reply));
            }
        }
        return values;
    }

    /** Number of keys on the server. */
    public long size() throws IOException {
        String reply = call("SIZE");
        if (reply.startsWith("SIZE ")) {
            try {
                return Long.parseLong(reply.substring(5));
            } catch (NumberFormatException e) {
                // fall through
            }
        }
        throw new IOException("unexpected reply to SIZE: " + abbreviate(reply));
    }

    /** Round-trips a {@code PING}; returns normally only on {@code PONG}. */
    public void ping() throws IOException {
        String reply = call("PING");
        if (!reply.equals("PONG")) {
            throw new IOException("unexpected reply to PING: " + abbreviate(reply));
        }
    }

    /** The raw {@code STATS ...} reply line. */
    public String stats() throws IOException {
        String reply = call("STATS");
        if (!reply.startsWith("STATS ")) {
            throw new IOException("unexpected reply to STATS: " + abbreviate(reply));
        }
        return reply;
    }

    /**
     * Sends one raw request line (without newline) and returns the reply line. For protocol tests and
     * debugging; the request is not validated.
     */
    public String call(String request) throws IOException {
        out.write(request.getBytes(StandardCharsets.UTF_8));
        out.write('\n');
        out.flush();
        return readLine();
    }

    private String readLine() throws IOException {
        line.reset();
        while (true) {
            int b = in.read(); // SO_TIMEOUT bounds this
            if (b < 0) {
                throw new EOFException("connection closed by server");
            }
            if (b == '\n') {
                return line.toString(StandardCharsets.UTF_8);
            }
            if (line.size() >= MAX_REPLY_LINE) {
                throw new IOException("reply line too long");
            }
            line.write(b);
        }
    }

    /** The remote address this client is connected to. */
    public InetSocketAddress remoteAddress() {
        return (InetSocketAddress) socket.getRemoteSocketAddress();
    }

    /** Closes the connection; never throws. */
    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 80 ? s : s.substring(0, 80) + "...";
    }
}
