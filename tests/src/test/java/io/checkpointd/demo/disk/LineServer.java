package io.checkpointd.demo.disk;

import io.checkpointd.demo.PortFile;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * The command line and the serving loop of the data-dir test services ({@link AppendService}, the tests' H2
 * service): {@code --host H --port P --port-file F --dir D}; one thread per connection, one ASCII reply line to
 * each request line.
 */
public final class LineServer {
    private LineServer() {
    }

    /**
     * A service's command line.
     *
     * @param host     address to bind (default 127.0.0.1)
     * @param port     port to bind (default 0: ephemeral)
     * @param portFile null, or where the bound port is written once the service accepts connections
     * @param dir      the service's data directory (required)
     */
    public record Args(String host, int port, Path portFile, Path dir) {
        /** @throws IllegalArgumentException on an unknown option, an option without a value, or no {@code --dir} */
        public static Args parse(String... args) {
            String host = "127.0.0.1";
            int port = 0;
            Path portFile = null, dir = null;
            for (int i = 0; i < args.length; i += 2) {
                if (i + 1 >= args.length) throw new IllegalArgumentException(args[i] + " needs a value");
                String value = args[i + 1];
                switch (args[i]) {
                    case "--host" -> host = value;
                    case "--port" -> port = Integer.parseInt(value);
                    case "--port-file" -> portFile = Path.of(value);
                    case "--dir" -> dir = Path.of(value);
                    default -> throw new IllegalArgumentException("unknown option " + args[i]);
                }
            }
            if (dir == null) throw new IllegalArgumentException("--dir is required");
            return new Args(host, port, portFile, dir);
        }
    }

    /** Answers the request lines of one connection; closed when the connection ends. */
    @FunctionalInterface
    public interface Session extends AutoCloseable {
        /** The reply to one request line (without its newline). */
        String reply(String line) throws Exception;

        @Override
        default void close() throws Exception {
        }
    }

    /** Opens the session of a new connection. */
    @FunctionalInterface
    public interface Sessions {
        Session open() throws Exception;
    }

    /**
     * Binds {@code args}' address, writes the bound port to its port file (if any), then serves every connection on
     * a daemon thread of its own with a session from {@code sessions}. Returns only by throwing.
     */
    public static void serve(Args args, Sessions sessions) throws IOException {
        ServerSocket ss = new ServerSocket();
        ss.setReuseAddress(true);
        ss.bind(new InetSocketAddress(args.host(), args.port()));
        if (args.portFile() != null) PortFile.write(args.portFile(), ss.getLocalPort());
        while (true) {
            Socket s = ss.accept();
            Thread t = new Thread(() -> converse(s, sessions), "conn");
            t.setDaemon(true);
            t.start();
        }
    }

    private static void converse(Socket s, Sessions sessions) {
        try (s; Session session = sessions.open();
             BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII))) {
            OutputStream out = s.getOutputStream();
            String line;
            while ((line = in.readLine()) != null) {
                out.write((session.reply(line) + "\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
            }
        } catch (Exception e) {
            // the client went away, or a restore closed the connection: it reconnects
        }
    }
}
