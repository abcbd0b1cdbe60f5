package io.checkpointd.e2e.hosts;

import io.checkpointd.demo.disk.LineServer;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * A service around an embedded H2 database whose files ({@code DIR/db.mv.db}) are in the protected data dir:
 * {@code INSERT <id>} commits one row and answers {@code OK <id>} once committed; {@code IDS} answers
 * {@code IDS <count> <id> <id> …}. H2 keeps part of a committed transaction in memory and writes it to its file
 * later, so only memory and files taken at the same instant make a consistent database.
 *
 * <p>Usage: {@code H2Service --host H --port P --port-file F --dir D} ({@link LineServer}). One database connection
 * per client connection.
 */
public final class H2Service {
    private H2Service() {
    }

    public static void main(String[] args) throws Exception {
        LineServer.Args a = LineServer.Args.parse(args);
        String url = "jdbc:h2:file:" + a.dir().resolve("db") + ";TRACE_LEVEL_FILE=0";
        try (Connection init = DriverManager.getConnection(url, "sa", ""); Statement st = init.createStatement()) {
            st.execute("CREATE TABLE IF NOT EXISTS acked(id BIGINT PRIMARY KEY, payload VARCHAR(200))");
        }
        LineServer.serve(a, () -> new Session(DriverManager.getConnection(url, "sa", "")));
    }

    /** One client's database connection. */
    private static final class Session implements LineServer.Session {
        private final Connection db;
        private final PreparedStatement ins;

        Session(Connection db) throws SQLException {
            this.db = db;
            try {
                this.ins = db.prepareStatement("INSERT INTO acked VALUES (?, ?)");
            } catch (SQLException | RuntimeException e) {
                db.close();
                throw e;
            }
        }

        @Override
        public String reply(String line) throws SQLException {
            if (line.startsWith("INSERT ")) {
                long id = Long.parseLong(line.substring(7).trim());
                ins.setLong(1, id);
                ins.setString(2, "row " + id + " ".repeat(100)); // some bulk, so pages fill and files grow
                ins.executeUpdate(); // autocommit
                return "OK " + id;
            }
            if (line.equals("IDS")) {
                StringBuilder sb = new StringBuilder();
                long n = 0;
                try (Statement st = db.createStatement(); ResultSet rs = st.executeQuery("SELECT id FROM acked ORDER BY id")) {
                    while (rs.next()) {
                        sb.append(' ').append(rs.getLong(1));
                        n++;
                    }
                }
                return "IDS " + n + sb;
            }
            return "ERR unknown command";
        }

        @Override
        public void close() throws SQLException {
            try (db; ins) {
                // closes the statement, then the connection
            }
        }
    }
}
