package io.checkpointd.e2e.hosts;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
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
 * <p>Usage: {@code H2Service --host H --port P --port-file F --dir D}. One connection per client thread.
 */
public final class H2Service {
    private H2Service() {
    }

    public static void main(String[] args) throws Exception {
        String host = "127.0.0.1";
        int port = 0;
        Path portFile = null, dir = null;
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--host" -> host = args[i + 1];
                case "--port" -> port = Integer.parseInt(args[i + 1]);
                case "--port-file" -> portFile = Path.of(args[i + 1]);
                case "--dir" -> dir = Path.of(args[i + 1]);
                default -> throw new IllegalArgumentException(args[i]);
            }
        }
        String url = "jdbc:h2:file:" + dir.resolve("db") + ";TRACE_LEVEL_FILE=0";
        try (Connection init = DriverManager.getConnection(url, "sa", ""); Statement st = init.createStatement()) {
            st.execute("CREATE TABLE IF NOT EXISTS acked(id BIGINT PRIMARY KEY, payload VARCHAR(200))");
        }
        ServerSocket ss = new ServerSocket();
        ss.setReuseAddress(true);
        ss.bind(new InetSocketAddress(host, port));
        if (portFile != null) {
            Path tmp = portFile.resolveSibling(portFile.getFileName() + ".tmp");
            Files.writeString(tmp, Integer.toString(ss.getLocalPort()));
            Files.move(tmp, portFile, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        }
        while (true) {
            Socket s = ss.accept();
            Thread t = new Thread(() -> serve(s, url), "conn");
            t.setDaemon(true);
            t.start();
        }
    }

    private static void serve(Socket s, String url) {
        try (s; Connection db = DriverManager.getConnection(url, "sa", "");
             PreparedStatement ins = db.prepareStatement("INSERT INTO acked VALUES (?, ?)");
             BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII))) {
            OutputStream out = s.getOutputStream();
            String line;
            while ((line = in.readLine()) != null) {
                String reply;
                if (line.startsWith("INSERT ")) {
                    long id = Long.parseLong(line.substring(7).trim());
                    ins.setLong(1, id);
                    ins.setString(2, "row " + id + " ".repeat(100)); // some bulk, so pages fill and files grow
                    ins.executeUpdate(); // autocommit
                    reply = "OK " + id;
                } else if (line.equals("IDS")) {
                    StringBuilder sb = new StringBuilder();
                    long n = 0;
                    try (Statement st = db.createStatement(); ResultSet rs = st.executeQuery("SELECT id FROM acked ORDER BY id")) {
                        while (rs.next()) {
                            sb.append(' ').append(rs.getLong(1));
                            n++;
                        }
                    }
                    reply = "IDS " + n + sb;
                } else {
                    reply = "ERR unknown command";
                }
                out.write((reply + "\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
            }
        } catch (IOException | SQLException | RuntimeException e) {
            // the client went away, or a restore closed the connection: it reconnects
        }
    }
}
