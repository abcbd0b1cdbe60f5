package io.checkpointd.e2e.hosts;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The client of {@link ForwardingService}: a writer sends {@code 1, 2, 3, …} (one line about every millisecond,
 * pipelined) while a reader checks that the answers are the same numbers in order. If the connection breaks (see
 * {@link #breaks()}), the reader connects again, asks the service which request it expects next ({@code +}) and
 * the writer goes on from there, so the sink's stream is what is under test, not this connection.
 */
final class NumberClient implements AutoCloseable {
    /** A connection that broke: when (nanoTime) and how. */
    record Break(long nanos, String why) {
    }

    private final InetSocketAddress service;
    private final Object writeLock = new Object();
    private final Thread writer, reader;
    private final List<String> held = new ArrayList<>();
    private final List<Break> breaks = new ArrayList<>();
    private volatile Socket socket;
    private volatile OutputStream out;
    private volatile boolean stop, heldDone;
    private volatile long written, answered;
    private volatile String error;

    NumberClient(InetSocketAddress service) throws IOException {
        this.service = service;
        socket = open();
        out = socket.getOutputStream();
        writer = new Thread(this::write, "number-writer");
        reader = new Thread(this::read, "number-reader");
        writer.setDaemon(true);
        reader.setDaemon(true);
        reader.start();
        writer.start();
    }

    private Socket open() throws IOException {
        Socket s = new Socket();
        s.connect(service, 2000);
        s.setTcpNoDelay(true);
        return s;
    }

    private void write() {
        while (!stop && written < ForwardingService.MAX) {
            synchronized (writeLock) {
                try {
                    out.write((written + 1 + "\n").getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    written++;
                } catch (IOException e) {
                    closeQuietly(socket); // the reader sees it broken and connects again
                }
            }
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private void read() {
        while (!stop) {
            String why;
            try {
                BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
                for (String line; (line = in.readLine()) != null; ) take(line);
                why = "end of stream";
            } catch (IOException | RuntimeException e) {
                why = e.toString();
            }
            if (stop && heldDone) return;
            synchronized (breaks) {
                breaks.add(new Break(System.nanoTime(), why + " after " + answered + " answers"));
            }
            if (!reconnect()) return;
        }
    }

    private void take(String line) {
        if (line.equals(".")) {
            heldDone = true;
        } else if (line.indexOf(' ') > 0) {
            synchronized (held) {
                held.add(line);
            }
        } else if (Long.parseLong(line) == answered + 1) {
            answered++;
        } else {
            fail("answer " + line + " after " + answered);
        }
    }

    /** Connects again (for up to a minute) and goes on from the request the service expects next. */
    private boolean reconnect() {
        long until = System.nanoTime() + Duration.ofMinutes(1).toNanos();
        synchronized (writeLock) {
            closeQuietly(socket);
            while (!stop && System.nanoTime() < until) {
                try {
                    Socket s = open();
                    s.setSoTimeout(5000);
                    s.getOutputStream().write("+\n".getBytes(StandardCharsets.US_ASCII));
                    String next = readLine(s);
                    if (next == null || !next.startsWith("next ")) throw new IOException("asked for the next request, got " + next);
                    s.setSoTimeout(0);
                    long n = Long.parseLong(next.substring(5).strip());
                    written = n - 1;
                    answered = n - 1;
                    socket = s;
                    out = s.getOutputStream();
                    return true;
                } catch (IOException | RuntimeException e) {
                    try {
                        Thread.sleep(100);
                    } catch (InterruptedException ie) {
                        return false;
                    }
                }
            }
        }
        fail("could not connect again within a minute");
        return false;
    }

    /** One line, byte by byte (no buffering past it: the reader loop reads the rest). */
    private static String readLine(Socket s) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (int b; (b = s.getInputStream().read()) != -1 && b != '\n'; ) sb.append((char) b);
        return sb.length() == 0 ? null : sb.toString();
    }

    private synchronized void fail(String why) {
        if (error == null) error = why;
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // broken already
        }
    }

    long written() {
        return written;
    }

    long answered() {
        return answered;
    }

    /** The first answer out of order (or a failure to connect again), or null. */
    String error() {
        return error;
    }

    /** Every connection that broke. */
    List<Break> breaks() {
        synchronized (breaks) {
            return List.copyOf(breaks);
        }
    }

    /** Waits until {@code n} numbers were answered (or an error, or {@code max} passed). */
    boolean awaitAnswered(long n, Duration max) throws InterruptedException {
        long until = System.nanoTime() + max.toNanos();
        while (answered < n && error == null && System.nanoTime() < until) Thread.sleep(10);
        return answered >= n;
    }

    /** Stops writing; returns the last number written. */
    long stopWriting() throws InterruptedException {
        stop = true;
        writer.join(5000);
        return written;
    }

    /** The lines {@code 1..last} the service holds as forwarded ({@code ? 1 last}), after every answer came back. */
    List<String> heldLines(long last, Duration max) throws IOException, InterruptedException {
        if (!awaitAnswered(last, max)) throw new IOException(answered + " of " + last + " answered within " + max + "; " + error);
        synchronized (writeLock) {
            out.write(("? 1 " + last + "\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
        }
        long until = System.nanoTime() + max.toNanos();
        while (!heldDone && error == null && System.nanoTime() < until) Thread.sleep(10);
        if (!heldDone) throw new IOException("no answer to the query within " + max + "; " + error);
        synchronized (held) {
            return List.copyOf(held);
        }
    }

    @Override
    public void close() throws InterruptedException {
        stop = true;
        closeQuietly(socket);
        writer.join(2000);
        reader.join(2000);
    }
}
