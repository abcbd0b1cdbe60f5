package io.checkpointd.linux.criu;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The small JVM service the CRIU round-trip test checkpoints: an in-memory counter bumped every 2 ms, served as one
 * line per connection on 127.0.0.1. Its port is published by writing {@code args[0]} (atomically, so the test
 * never reads half a number; the file is closed again, so CRIU has no open file to worry about).
 */
public final class CounterService {
    private CounterService() {
    }

    public static void main(String[] args) throws IOException {
        AtomicLong counter = new AtomicLong();
        Thread ticker = new Thread(() -> {
            while (true) {
                counter.incrementAndGet();
                try {
                    Thread.sleep(2);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "ticker");
        ticker.setDaemon(true);
        ticker.start();
        try (ServerSocket server = new ServerSocket()) {
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            Path portFile = Path.of(args[0]);
            Path tmp = portFile.resolveSibling(portFile.getFileName() + ".tmp");
            Files.writeString(tmp, Integer.toString(server.getLocalPort()));
            Files.move(tmp, portFile, StandardCopyOption.ATOMIC_MOVE);
            while (true) {
                try (Socket s = server.accept(); OutputStream out = s.getOutputStream()) {
                    out.write((counter.get() + "\n").getBytes(StandardCharsets.US_ASCII));
                } catch (IOException e) {
                    // a client that went away (or a connection CRIU closed): serve the next one
                }
            }
        }
    }
}
