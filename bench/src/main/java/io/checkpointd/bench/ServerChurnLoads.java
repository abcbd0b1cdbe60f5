package io.checkpointd.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * The requests of {@link ServerChurnBenchmark}, each on a new connection: an HTTP/1.1 {@code GET /put} with
 * {@code Connection: close} to {@link NettyHttpService}, read to the end; a new JDBC connection to H2's TCP server
 * ({@link H2TcpService}) inserting one row in its own committed transaction.
 */
final class ServerChurnLoads {
    private ServerChurnLoads() {
    }

    /** One request on a new connection to {@code target}; {@code id} is unique in the run. */
    @FunctionalInterface
    interface Request {
        void send(InetSocketAddress target, String id) throws IOException, SQLException;
    }

    /** A put over HTTP on a new connection, the whole response read and checked. */
    static void httpPut(InetSocketAddress target, String id) throws IOException {
        try (Socket s = new Socket(target.getAddress(), target.getPort())) {
            s.setSoTimeout(30_000);
            OutputStream out = s.getOutputStream();
            out.write(("GET /put?k=" + id + "&v=x HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            byte[] all = in.readAllBytes();
            String head = new String(all, 0, Math.min(all.length, 15), StandardCharsets.US_ASCII);
            if (!head.startsWith("HTTP/1.1 200")) throw new IOException("unexpected response: " + head);
        }
    }

    /** Creates the table the inserts go to (once, before the run). */
    static void h2Setup(InetSocketAddress target) throws SQLException {
        try (Connection db = DriverManager.getConnection(h2Url(target), "sa", ""); Statement st = db.createStatement()) {
            st.execute("CREATE TABLE IF NOT EXISTS churn(id VARCHAR(64) PRIMARY KEY, payload VARCHAR(100))");
        }
    }

    /** One row in its own transaction on a new JDBC connection. */
    static void h2Insert(InetSocketAddress target, String id) throws SQLException {
        try (Connection db = DriverManager.getConnection(h2Url(target), "sa", "");
             PreparedStatement ins = db.prepareStatement("INSERT INTO churn VALUES (?, ?)")) {
            ins.setString(1, id);
            ins.setString(2, "row " + id);
            if (ins.executeUpdate() != 1) throw new SQLException("insert of " + id + " changed no row");
        }
    }

    private static String h2Url(InetSocketAddress target) {
        return "jdbc:h2:tcp://" + target.getHostString() + ":" + target.getPort() + "/mem:churn;DB_CLOSE_DELAY=-1;NETWORK_TIMEOUT=30000";
    }
}
