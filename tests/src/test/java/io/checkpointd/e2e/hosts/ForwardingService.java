package io.checkpointd.e2e.hosts;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A service that forwards each request to an outside sink over its own outbound TCP connection. A client sends
 * numbered lines ({@code n}); for each the service writes {@code n STAMP} to the sink ({@code --sink}), where STAMP
 * is {@link System#nanoTime()} at the forward in 16 hex digits, keeps the stamp in memory, and answers {@code n}.
 * A replay cannot reproduce a stamp: a process restored from an epoch that lacks a forward sends the line again
 * with a later stamp, so comparing the sink's lines with the stamps the restored service holds shows whether the
 * sink ever got bytes the backup lacked (TCP drops the replay's bytes as duplicates, the sink keeps the old ones).
 * {@code ? A B} answers the held lines {@code A..B}, then {@code .}; {@code +} answers {@code next N}, the request it
 * expects next (for a client whose connection broke).
 *
 * <p>The outbound connection is opened at start from {@code --bind} (the service's own address, which moves to the
 * backup host at failover) so that TCP repair restores it there. Connections that close without a line (readiness
 * probes) are fine.
 */
public final class ForwardingService {
    /** The most forwards it holds stamps for. */
    static final int MAX = 1 << 20;
    private final long[] stamps = new long[MAX + 1];
    private final OutputStream sink;
    private long forwarded;

    private ForwardingService(OutputStream sink) {
        this.sink = sink;
    }

    public static void main(String[] args) throws Exception {
        String host = "0.0.0.0", sinkAddress = null, bind = null;
        int port = 0;
        Path portFile = null;
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--host" -> host = args[i + 1];
                case "--port" -> port = Integer.parseInt(args[i + 1]);
                case "--port-file" -> portFile = Path.of(args[i + 1]);
                case "--sink" -> sinkAddress = args[i + 1];
                case "--bind" -> bind = args[i + 1];
                default -> throw new IllegalArgumentException(args[i]);
            }
        }
        Socket out = new Socket();
        out.bind(new InetSocketAddress(bind, 0));
        int c = sinkAddress.lastIndexOf(':');
        out.connect(new InetSocketAddress(sinkAddress.substring(0, c), Integer.parseInt(sinkAddress.substring(c + 1))), 5000);
        out.setTcpNoDelay(true);
        ForwardingService service = new ForwardingService(out.getOutputStream());
        ServerSocket listen = new ServerSocket();
        listen.bind(new InetSocketAddress(host, port));
        Files.writeString(portFile, Integer.toString(listen.getLocalPort()));
        while (true) {
            Socket s = listen.accept();
            Thread t = new Thread(() -> service.serve(s), "client");
            t.setDaemon(true);
            t.start();
        }
    }

    private void serve(Socket s) {
        try (s; BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII))) {
            s.setTcpNoDelay(true);
            OutputStream reply = s.getOutputStream();
            for (String line; (line = in.readLine()) != null; ) {
                String answer = line.startsWith("?") ? held(line) : line.equals("+") ? next() : forward(Long.parseLong(line.strip())) + "\n";
                reply.write(answer.getBytes(StandardCharsets.US_ASCII));
                reply.flush();
            }
        } catch (IOException | RuntimeException e) {
            // the client went away, or sent something else: this connection ends, the service goes on
        }
    }

    /** Forwards request {@code n}; the sink gets requests in order, each once per run of this process. */
    private synchronized long forward(long n) throws IOException {
        if (n != forwarded + 1 || n > MAX) throw new IOException("request " + n + " after " + forwarded);
        long stamp = System.nanoTime();
        sink.write(line(n, stamp).getBytes(StandardCharsets.US_ASCII));
        sink.flush();
        stamps[(int) n] = stamp;
        forwarded = n;
        return n;
    }

    /** {@code +}: the next request it expects, for a client that connects again. */
    private synchronized String next() {
        return "next " + (forwarded + 1) + "\n";
    }

    /** {@code ? A B}: the lines this process holds as sent for A..B, then ".". */
    private synchronized String held(String query) {
        String[] f = query.substring(1).strip().split("\\s+");
        long a = Long.parseLong(f[0]), b = Math.min(Long.parseLong(f[1]), forwarded);
        StringBuilder sb = new StringBuilder();
        for (long n = Math.max(1, a); n <= b; n++) sb.append(line(n, stamps[(int) n]));
        return sb.append(".\n").toString();
    }

    static String line(long n, long stamp) {
        return n + " " + String.format("%016x", stamp) + "\n";
    }
}
