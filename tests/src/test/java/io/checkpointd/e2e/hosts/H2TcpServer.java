package io.checkpointd.e2e.hosts;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.h2.tools.Server;

/**
 * A third-party database server as the protected service: H2's TCP server, reached by H2's JDBC driver from other
 * hosts, serving in-memory databases (all their state is the process's memory). Takes {@code --host H --port P
 * --port-file F} as {@link io.checkpointd.demo.hosts.HostCluster} passes them and writes the port to F once it listens.
 */
public final class H2TcpServer {
    private H2TcpServer() {
    }

    public static void main(String[] args) throws Exception {
        String host = "0.0.0.0";
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
        Server server = Server.createTcpServer("-tcpPort", Integer.toString(port), "-tcpAllowOthers", "-ifNotExists").start();
        if (portFile != null) {
            Path tmp = portFile.resolveSibling(portFile.getFileName() + ".tmp");
            Files.writeString(tmp, Integer.toString(server.getPort()));
            Files.move(tmp, portFile, StandardCopyOption.ATOMIC_MOVE);
        }
        Thread.currentThread().join(); // the server's threads serve; this one waits to be killed
    }
}
