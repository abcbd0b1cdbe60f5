package io.checkpointd.proxy;

import static java.nio.charset.StandardCharsets.US_ASCII;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;

/** A blocking client of the proxy with bounded reads. */
final class TestClient implements AutoCloseable {
    private final Socket socket;
    private final InputStream in;

    TestClient(InetSocketAddress proxy) throws IOException {
        socket = new Socket();
        socket.connect(proxy, 5_000);
        socket.setTcpNoDelay(true);
        in = socket.getInputStream();
    }

    void send(String s) throws IOException {
        socket.getOutputStream().write(s.getBytes(US_ASCII));
        socket.getOutputStream().flush();
    }

    /** Reads exactly {@code n} bytes within 5 s. */
    String read(int n) throws IOException {
        socket.setSoTimeout(5_000);
        byte[] buf = new byte[n];
        int got = 0;
        while (got < n) {
            int r = in.read(buf, got, n - got);
            if (r < 0) throw new AssertionError("EOF after " + got + " of " + n + " bytes");
            got += r;
        }
        return new String(buf, US_ASCII);
    }

    /** Fails if any byte (or EOF) arrives within {@code millis}. */
    void expectNothingFor(int millis) throws IOException {
        socket.setSoTimeout(millis);
        try {
            int r = in.read();
            throw new AssertionError(r < 0 ? "unexpected EOF" : "unexpected byte '" + (char) r + "'");
        } catch (SocketTimeoutException expected) {
            // nothing arrived: what output commit promises
        }
    }

    /** Expects the proxy to close the connection within 5 s with no further bytes. */
    void expectEof() throws IOException {
        socket.setSoTimeout(5_000);
        try {
            int r = in.read();
            if (r >= 0) throw new AssertionError("expected EOF, got '" + (char) r + "'");
        } catch (java.net.SocketException reset) {
            // a reset is a close too
        }
    }

    InputStream in() {
        return in;
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
