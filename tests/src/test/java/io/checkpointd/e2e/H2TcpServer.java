package io.checkpointd.e2e;

import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import org.h2.tools.Server;

/**
 * A third-party server as the protected service: H2's TCP server (thread-per-connection: it starts a thread for
 * every client connection and ends it when the connection closes), serving in-memory databases (all their state is
 * the process's memory). Takes the demo service's {@code --host H --port P --port-file F} and writes the port it
 * listens on to F. On a host other than loopback (e.g. {@code 0.0.0.0} in {@link io.checkpointd.demo.hosts.HostCluster})
 * it accepts clients from other hosts ({@code -tcpAllowOthers}).
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
        List<String> options = new ArrayList<>(List.of("-tcpPort", Integer.toString(port), "-ifNotExists"));
        if (!InetAddress.getByName(host).isLoopbackAddress()) options.add("-tcpAllowOthers");
        Server server = Server.createTcpServer(options.toArray(String[]::new)).start();
        if (portFile != null) {
            Path tmp = portFile.resolveSibling(portFile.getFileName() + ".tmp");
            Files.writeString(tmp, Integer.toString(server.getPort()));
            Files.move(tmp, portFile, StandardCopyOption.ATOMIC_MOVE);
        }
        Thread.currentThread().join(); // the server's threads serve; this one waits to be killed
    }
}
