package io.checkpointd.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.h2.tools.Server;

/**
 * A real database server for {@link ResponseBenchmark}: H2's TCP server, in-memory databases only (the state a
 * checkpoint captures is then the process's memory; no data dir). Takes the demo service's arguments,
 * {@code --host H --port P --port-file F}, and writes the port it listens on to F.
 */
public final class H2TcpService {
    private H2TcpService() {
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
                    System.err.println("H2TcpService: unknown option " + args[i]);
                    System.exit(2);
                }
            }
        }
        System.setProperty("h2.bindAddress", host); // loopback only
        Server server = Server.createTcpServer("-tcpPort", Integer.toString(port), "-ifNotExists").start();
        if (portFile != null) {
            Path tmp = portFile.resolveSibling(portFile.getFileName() + ".tmp");
            Files.writeString(tmp, Integer.toString(server.getPort()));
            Files.move(tmp, portFile, StandardCopyOption.ATOMIC_MOVE);
        }
        Thread.currentThread().join(); // the server's threads serve; this one waits to be killed
    }
}
