package io.checkpointd.e2e;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.h2.tools.Server;

/**
 * A third-party server as the protected service: H2's TCP server (thread-per-connection: it starts a thread for
 * every client connection and ends it when the connection closes), serving in-memory databases on loopback. Takes
 * the demo service's {@code --host H --port P --port-file F} and writes the port it listens on to F.
 */
public final class H2TcpServer {
    private H2TcpServer() {
    }

    public static void main(String[] args) throws Exception {
        String host = "127.0.0.1";
        int port = 0;
        Path portFile = null;
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--host" -> host = args[i + 1];
                case "--port" -> port = Integer.parseInt(args[i + 1]);
                case "--port-file" -> portFile = Path.of(args[i + 1]);
                default -> {
                    System.err.println("H2TcpServer: unknown option " + args[i]);
                    System.exit(2);
                }
            }
        }
        System.setProperty("h2.bindAddress", host);
        Server server = Server.createTcpServer("-tcpPort", Integer.toString(port), "-ifNotExists").start();
        if (portFile != null) {
            Path tmp = portFile.resolveSibling(portFile.getFileName() + ".tmp");
            Files.writeString(tmp, Integer.toString(server.getPort()));
            Files.move(tmp, portFile, StandardCopyOption.ATOMIC_MOVE);
        }
        Thread.currentThread().join(); // the server's threads serve; this one waits to be killed
    }
}
