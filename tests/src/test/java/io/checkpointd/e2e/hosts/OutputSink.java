package io.checkpointd.e2e.hosts;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The outside world of {@link HeldOutputService}, in the test's namespace: records every sequence number it
 * receives, by UDP or TCP, with the sender's address and when it arrived.
 */
final class OutputSink implements AutoCloseable {
    /** One number received from {@code from} at {@code nanos}. */
    record Seen(String from, long seq, long nanos, boolean tcp) {
    }

    private final DatagramSocket udp;
    private final ServerSocket tcp;
    private final List<Seen> seen = new ArrayList<>();
    private final List<Thread> threads = new ArrayList<>();
    private final List<Socket> accepted = new ArrayList<>();
    private volatile boolean closed;

    OutputSink(String address) throws IOException {
        udp = new DatagramSocket(new InetSocketAddress(address, 0));
        tcp = new ServerSocket();
        tcp.bind(new InetSocketAddress(address, 0));
        start(this::readUdp);
        start(this::acceptTcp);
    }

    String udpAddress() {
        return udp.getLocalAddress().getHostAddress() + ":" + udp.getLocalPort();
    }

    String tcpAddress() {
        return tcp.getInetAddress().getHostAddress() + ":" + tcp.getLocalPort();
    }

    private void start(Runnable r) {
        Thread t = new Thread(r, "sink");
        t.setDaemon(true);
        synchronized (threads) {
            threads.add(t);
        }
        t.start();
    }

    private void readUdp() {
        byte[] b = new byte[64];
        while (!closed) {
            DatagramPacket p = new DatagramPacket(b, b.length);
            try {
                udp.receive(p);
            } catch (IOException e) {
                return;
            }
            record(p.getAddress().getHostAddress(), new String(b, 0, p.getLength(), StandardCharsets.US_ASCII), false);
        }
    }

    private void acceptTcp() {
        while (!closed) {
            Socket s;
            try {
                s = tcp.accept();
            } catch (IOException e) {
                return;
            }
            synchronized (accepted) {
                accepted.add(s);
            }
            start(() -> readTcp(s));
        }
    }

    private void readTcp(Socket s) {
        String from = s.getInetAddress().getHostAddress();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII))) {
            for (String line; (line = r.readLine()) != null; ) record(from, line, true);
        } catch (SocketException e) {
            // reset, or closed by close()
        } catch (IOException e) {
            // the connection broke: its bytes so far are recorded
        }
    }

    private void record(String from, String text, boolean isTcp) {
        long seq;
        try {
            seq = Long.parseLong(text.strip());
        } catch (NumberFormatException e) {
            return; // a partial line at a broken connection's end
        }
        synchronized (seen) {
            seen.add(new Seen(from, seq, System.nanoTime(), isTcp));
        }
    }

    /** Everything received so far from {@code from} (an address), over TCP or UDP. */
    List<Seen> from(String from, boolean isTcp) {
        synchronized (seen) {
            return seen.stream().filter(s -> s.from().equals(from) && s.tcp() == isTcp).toList();
        }
    }

    @Override
    public void close() throws InterruptedException {
        closed = true;
        udp.close();
        try {
            tcp.close();
        } catch (IOException ignored) {
            // closing
        }
        synchronized (accepted) {
            for (Socket s : accepted) {
                try {
                    s.close();
                } catch (IOException ignored) {
                    // closing
                }
            }
        }
        synchronized (threads) {
            for (Thread t : threads) t.join(2000);
        }
    }
}
