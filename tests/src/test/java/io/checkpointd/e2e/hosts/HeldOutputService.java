package io.checkpointd.e2e.hosts;

import java.io.IOException;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A service whose only state is a sequence counter in memory, and whose output goes out by itself: every 2 ms it
 * counts one up and sends the new value as a UDP datagram ({@code --udp-sink}) and as a line on its own outbound TCP
 * connection ({@code --tcp-sink}; after a broken connection, a new one goes on from the counter). It listens on
 * {@code --port} (accepts and closes) so that a restore can wait for it, and writes the port to {@code --port-file}.
 */
public final class HeldOutputService {
    private HeldOutputService() {
    }

    public static void main(String[] args) throws Exception {
        String host = "0.0.0.0", udp = null, tcp = null;
        int port = 0;
        Path portFile = null;
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--host" -> host = args[i + 1];
                case "--port" -> port = Integer.parseInt(args[i + 1]);
                case "--port-file" -> portFile = Path.of(args[i + 1]);
                case "--udp-sink" -> udp = args[i + 1];
                case "--tcp-sink" -> tcp = args[i + 1];
                default -> throw new IllegalArgumentException(args[i]);
            }
        }
        ServerSocket listen = new ServerSocket();
        listen.bind(new InetSocketAddress(host, port));
        DatagramSocket datagrams = udp == null ? null : new DatagramSocket();
        InetSocketAddress udpSink = udp == null ? null : address(udp), tcpSink = tcp == null ? null : address(tcp);
        Thread sender = new Thread(() -> send(datagrams, udpSink, tcpSink), "sender");
        sender.setDaemon(true);
        sender.start();
        Files.writeString(portFile, Integer.toString(listen.getLocalPort()));
        while (true) {
            try (Socket s = listen.accept()) {
                s.getOutputStream().flush(); // a readiness probe: accepted is all it needs
            }
        }
    }

    private static void send(DatagramSocket datagrams, InetSocketAddress udpSink, InetSocketAddress tcpSink) {
        long seq = 0;
        Socket out = null;
        OutputStream os = null;
        while (true) {
            seq++;
            try {
                if (datagrams != null) {
                    byte[] b = Long.toString(seq).getBytes(StandardCharsets.US_ASCII);
                    datagrams.send(new DatagramPacket(b, b.length, udpSink));
                }
                if (tcpSink != null) {
                    if (out == null) {
                        out = new Socket();
                        out.connect(tcpSink, 2000);
                        os = out.getOutputStream();
                    }
                    os.write((seq + "\n").getBytes(StandardCharsets.US_ASCII));
                    os.flush();
                }
            } catch (IOException e) {
                if (out != null) {
                    try {
                        out.close();
                    } catch (IOException ignored) {
                        // broken already
                    }
                }
                out = null; // the next round connects again
            }
            try {
                Thread.sleep(2);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private static InetSocketAddress address(String hostPort) {
        int i = hostPort.lastIndexOf(':');
        return new InetSocketAddress(hostPort.substring(0, i), Integer.parseInt(hostPort.substring(i + 1)));
    }
}
