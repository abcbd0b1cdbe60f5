package io.checkpointd.e2e.hosts;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The outside sink of {@link ForwardingService}, in the test's namespace: accepts TCP connections and records, per
 * connection, every line it reads, when it arrived, and how the connection ended (if it did).
 */
final class LineSink implements AutoCloseable {
    /** One line read at {@code nanos}. */
    record Line(String text, long nanos) {
    }

    /** One accepted connection: its peer, its lines so far, and how it ended ("" while open). */
    static final class Stream {
        final String from;
        final List<Line> lines = new ArrayList<>();
        String end = "";

        Stream(String from) {
            this.from = from;
        }
    }

    private final ServerSocket server;
    private final List<Stream> streams = new ArrayList<>();
    private final List<Socket> accepted = new ArrayList<>();
    private final List<Thread> threads = new ArrayList<>();
    private volatile boolean closed;

    LineSink(String address) throws IOException {
        server = new ServerSocket();
        server.bind(new InetSocketAddress(address, 0));
        start(this::acceptLoop);
    }

    String address() {
        return server.getInetAddress().getHostAddress() + ":" + server.getLocalPort();
    }

    private void start(Runnable r) {
        Thread t = new Thread(r, "line-sink");
        t.setDaemon(true);
        synchronized (threads) {
            threads.add(t);
        }
        t.start();
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket s = server.accept();
                Stream st = new Stream(s.getInetAddress().getHostAddress());
                synchronized (this) {
                    accepted.add(s);
                    streams.add(st);
                }
                start(() -> read(s, st));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void read(Socket s, Stream st) {
        String end;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII))) {
            for (String line; (line = r.readLine()) != null; ) {
                synchronized (this) {
                    st.lines.add(new Line(line, System.nanoTime()));
                }
            }
            end = "end of stream";
        } catch (IOException e) {
            end = closed ? "closed by the test" : e.toString();
        }
        synchronized (this) {
            st.end = end;
        }
    }

    /** How many connections were accepted. */
    synchronized int connections() {
        return streams.size();
    }

    /** The peer, lines and end of connection {@code i} so far (copies). */
    synchronized Stream stream(int i) {
        Stream st = streams.get(i), copy = new Stream(st.from);
        copy.lines.addAll(st.lines);
        copy.end = st.end;
        return copy;
    }

    @Override
    public void close() throws InterruptedException {
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // closing
        }
        synchronized (this) {
            for (Socket s : accepted) {
                try {
                    s.close();
                } catch (IOException ignored) {
                    // closing
                }
            }
        }
        synchronized (threads) {
            for (Thread t : threads) t.join(2000);
        }
    }
}
