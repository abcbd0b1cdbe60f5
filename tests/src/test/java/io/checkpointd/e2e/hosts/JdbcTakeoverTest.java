package io.checkpointd.e2e.hosts;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.demo.hosts.HostCluster;
import io.checkpointd.e2e.H2TcpServer;
import io.checkpointd.protocol.status.Json;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A JDBC client (H2's driver) keeps its one connection to a protected H2 TCP server ({@link H2TcpServer}) through the
 * failure of the primary host: the backup takes over the service address and restores the connection established;
 * the client commits again on the same connection, with the same prepared statement, and every row it committed
 * before is there. The failure comes at a quiet instant (see {@link ConnectionTakeoverTest}); commits racing the
 * kill need the packet hold.
 */
class JdbcTakeoverTest extends HostTest {
    private static final int ROWS = 40;

    @Test
    @Timeout(300)
    void aJdbcConnectionCommitsAgainAfterTheFailover() throws Exception {
        ExecutorService after = Executors.newSingleThreadExecutor();
        try (HostCluster c = HostCluster.start(HostCluster.Options.of(tmp).withService(H2TcpServer.class.getName(), null).withAddressTakeover())) {
            String url = "jdbc:h2:tcp://" + c.serviceAddress().getAddress().getHostAddress() + ":" + c.serviceAddress().getPort()
                    + "/mem:orders;DB_CLOSE_DELAY=-1";
            try (Connection db = DriverManager.getConnection(url, "sa", "")) {
                try (Statement st = db.createStatement()) {
                    st.execute("CREATE TABLE orders(id BIGINT PRIMARY KEY, item VARCHAR(100))");
                }
                PreparedStatement ins = db.prepareStatement("INSERT INTO orders VALUES (?, ?)");
                for (int i = 0; i < ROWS; i++) insert(ins, i); // autocommit: each acknowledged row is committed
                long acked = c.status("primary").map(s -> (Long) s.get("lastAckedEpoch")).orElse(0L);
                c.awaitAckedEpoch(acked + 3, Duration.ofSeconds(30));
                c.primaryHost().cutOff();
                c.killPrimaryHost();
                Json backup = c.awaitFailover(Duration.ofSeconds(60));
                String ctx = "backup " + backup + c.logs();
                long t0 = System.nanoTime();
                // on another thread: a socket read of a connection that never came back would not be interrupted
                Future<List<Long>> rows = after.submit(() -> {
                    for (int i = ROWS; i < ROWS + 10; i++) insert(ins, i);
                    List<Long> ids = new ArrayList<>();
                    try (Statement st = db.createStatement(); ResultSet rs = st.executeQuery("SELECT id FROM orders ORDER BY id")) {
                        while (rs.next()) ids.add(rs.getLong(1));
                    }
                    return ids;
                });
                List<Long> ids = rows.get(60, TimeUnit.SECONDS);
                long ms = (System.nanoTime() - t0) / 1_000_000;
                List<Long> expected = new ArrayList<>();
                for (long i = 0; i < ROWS + 10; i++) expected.add(i);
                assertThat(ids).as("every committed row, on the same connection; " + ctx).isEqualTo(expected);
                Json f = (Json) backup.get("failover");
                System.out.printf("jdbc takeover: %d rows committed before the failure, 10 after on the same connection; failover %s ms, "
                        + "first commits and query %d ms after it%n", ROWS, f.get("failoverMs"), ms);
            }
        } finally {
            after.shutdownNow();
        }
    }

    private static void insert(PreparedStatement ins, long id) throws java.sql.SQLException {
        ins.setLong(1, id);
        ins.setString(2, "item " + id);
        assertThat(ins.executeUpdate()).isEqualTo(1);
    }
}
