package io.checkpointd.demo.disk;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/** One connection to a line-protocol service ({@link AppendService}): a request line, a reply line. */
public final class LineClient implements AutoCloseable {
    private final Socket socket;
    private final BufferedReader in;
    private final OutputStream out;

    private LineClient(Socket socket) throws IOException {
        this.socket = socket;
        this.in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
        this.out = socket.getOutputStream();
    }

    public static LineClient connect(InetSocketAddress to, Duration timeout) throws IOException {
        Socket s = new Socket();
        try {
            s.connect(to, (int) timeout.toMillis());
            s.setSoTimeout((int) timeout.toMillis());
            s.setTcpNoDelay(true);
            return new LineClient(s);
        } catch (IOException e) {
            s.close();
            throw e;
        }
    }

    /** Sends {@code line} and returns the reply; an IOException if the connection fails or closes. */
    public String call(String line) throws IOException {
        out.write((line + "\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
        String r = in.readLine();
        if (r == null) throw new IOException("connection closed");
        return r;
    }

    /** Sends {@code line} {@code n} times, then reads the {@code n} replies. */
    public java.util.List<String> callPipelined(String line, int n) throws IOException {
        return callAll(java.util.Collections.nCopies(n, line));
    }

    /** Sends every line, then reads one reply per line (pipelined: one round trip). */
    public java.util.List<String> callAll(java.util.List<String> lines) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (String l : lines) sb.append(l).append('\n');
        out.write(sb.toString().getBytes(StandardCharsets.US_ASCII));
        out.flush();
        int n = lines.size();
        java.util.List<String> replies = new java.util.ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            String r = in.readLine();
            if (r == null) throw new IOException("connection closed");
            replies.add(r);
        }
        return replies;
    }

    /**
     * Retries {@code line} on fresh connections until it is answered or {@code max} passes (a failover in between
     * closes connections). Only for requests that are safe to repeat.
     */
    public static String callRetrying(InetSocketAddress to, String line, Duration max) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + max.toNanos();
        IOException last = null;
        while (System.nanoTime() - deadline < 0) {
            try (LineClient c = connect(to, Duration.ofSeconds(5))) {
                return c.call(line);
            } catch (IOException e) {
                last = e;
                Thread.sleep(100);
            }
        }
        throw new IOException("no answer to " + line + " within " + max + ": " + (last == null ? "" : last.getMessage()));
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
