package io.checkpointd.proxy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** The "protected service" of the tests: accepts on 127.0.0.1 and hands each server-side socket to the test. */
final class TestService implements AutoCloseable {
    private final ServerSocket server;
    private final BlockingQueue<Socket> accepted = new LinkedBlockingQueue<>();
    private final CopyOnWriteArrayList<Socket> all = new CopyOnWriteArrayList<>();
    private final Thread acceptor;

    TestService() throws IOException {
        this(0);
    }

    TestService(int port) throws IOException {
        server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
        acceptor = new Thread(this::acceptLoop, "test-service-" + server.getLocalPort());
        acceptor.setDaemon(true);
        acceptor.start();
    }

    InetSocketAddress address() {
        return (InetSocketAddress) server.getLocalSocketAddress();
    }

    /** The service side of the next proxied connection. */
    Socket accept() throws InterruptedException {
        Socket s = accepted.poll(5, TimeUnit.SECONDS);
        if (s == null) throw new AssertionError("the proxy did not connect to the service within 5 s");
        return s;
    }

    private void acceptLoop() {
        try {
            while (true) {
                Socket s = server.accept();
                s.setSoTimeout(5_000);
                all.add(s);
                accepted.add(s);
            }
        } catch (IOException closed) {
            // close() ends the loop
        }
    }

    @Override
    public void close() throws Exception {
        server.close();
        for (Socket s : all) s.close();
        acceptor.join(2_000);
    }
}
