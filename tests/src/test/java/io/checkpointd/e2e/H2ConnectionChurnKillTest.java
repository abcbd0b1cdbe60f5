package io.checkpointd.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.demo.Cluster;
import io.checkpointd.protocol.status.Json;
import java.net.InetSocketAddress;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A third-party server protected end to end: H2's TCP server ({@link H2TcpServer}, thread-per-connection, an
 * in-memory database), with clients that open a new JDBC connection through the proxy for every transaction, each
 * inserting one write-once row. Every new connection starts a server thread and a socket, every closed one ends them;
 * after the first epoch the engine captures all of it: no CRIU dump. The primary is then killed mid-load: after the
 * failover every row whose commit returned is present with its payload, no row that was never sent appears, and the
 * restored server takes new connections and commits.
 */
class H2ConnectionChurnKillTest extends E2eTest {
    private static final Duration EPOCH = Duration.ofMillis(25);
    private static final int CLIENTS = 4;
    /** Acknowledged commits under churn before the kill. */
    private static final int BEFORE_KILL = 150;

    @Test
    @Timeout(240)
    void everyCommittedRowSurvivesAKillUnderConnectionChurnWithoutCriuDumps() throws Exception {
        Cluster.Options opts = Cluster.Options.of(tmp).withEpoch(EPOCH).withServiceMain(H2TcpServer.class.getName());
        try (Cluster c = Cluster.start(opts)) {
            String url = url(c.proxyAddress());
            try (Connection db = DriverManager.getConnection(url, "sa", ""); Statement st = db.createStatement()) {
                st.execute("CREATE TABLE IF NOT EXISTS once(id BIGINT PRIMARY KEY, payload VARCHAR(200))");
            }
            Json first = engineStats(c);
            Set<Long> sent = ConcurrentHashMap.newKeySet(), acked = ConcurrentHashMap.newKeySet();
            AtomicLong ids = new AtomicLong(1);
            AtomicBoolean stop = new AtomicBoolean();
            List<Thread> clients = new ArrayList<>();
            for (int t = 0; t < CLIENTS; t++) {
                Thread th = new Thread(() -> insertUntil(url, stop, ids, sent, acked), "h2-churn-client-" + t);
                th.setDaemon(true);
                th.start();
                clients.add(th);
            }
            long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
            while (acked.size() < BEFORE_KILL && System.nanoTime() - deadline < 0) Thread.sleep(20);
            Json atKill = engineStats(c);
            Json primary = c.status("primary").orElseThrow();
            c.killPrimary(); // mid-load: the clients are still committing
            int ackedAtKill = acked.size();
            Json backup = c.awaitFailover(Duration.ofSeconds(60));
            stop.set(true);
            for (Thread th : clients) th.join(30_000);
            String ctx = ackedAtKill + " commits acknowledged at the kill, " + sent.size() + " sent; engine at the first epoch " + first
                    + ", at the kill " + atKill + "; primary " + primary + "; backup " + backup + E2eSupport.logs(c);
            for (Thread th : clients) assertThat(th.isAlive()).as(th.getName() + " ended; " + ctx).isFalse();
            assertThat(ackedAtKill).as("commits acknowledged under connection churn; " + ctx).isGreaterThanOrEqualTo(BEFORE_KILL);
            long dumps = (Long) atKill.get("criuDumps") - (Long) first.get("criuDumps");
            long epochs = (Long) atKill.get("incrementalEpochs") - (Long) first.get("incrementalEpochs");
            System.out.printf("H2 connection churn: %d commits, each on a new JDBC connection, over %d incremental epochs (%s with the memory"
                    + " map rebuilt); %d CRIU dumps after the first epoch (all reasons %s)%n", ackedAtKill, epochs, atKill.get("mmRebuiltEpochs"),
                    dumps, atKill.get("criuDumpReasons"));
            assertThat((Long) first.get("criuDumps")).as("the first epoch's CRIU dump only, before the churn; " + ctx).isEqualTo(1L);
            assertThat(dumps).as("CRIU dumps after the first epoch, a thread and a socket born and ended per transaction; " + ctx).isZero();
            assertThat(epochs).as("incremental epochs under churn; " + ctx).isGreaterThan(20);

            Map<Long, String> present = rows(url);
            Set<Long> missing = new java.util.TreeSet<>(acked);
            missing.removeAll(present.keySet());
            assertThat(missing).as("acknowledged commits missing after the failover; " + ctx).isEmpty();
            List<String> wrong = new ArrayList<>();
            for (Map.Entry<Long, String> r : present.entrySet()) {
                if (!sent.contains(r.getKey())) wrong.add("row " + r.getKey() + " was never sent");
                else if (!payload(r.getKey()).equals(r.getValue())) wrong.add("row " + r.getKey() + " has payload " + r.getValue());
            }
            assertThat(wrong).as("rows after the failover that no client committed; " + ctx).isEmpty();
            try (Connection db = DriverManager.getConnection(url, "sa", ""); PreparedStatement ins = db.prepareStatement("INSERT INTO once VALUES (?, ?)")) {
                ins.setLong(1, -1);
                ins.setString(2, payload(-1));
                assertThat(ins.executeUpdate()).as("a commit on a new connection to the restored server").isEqualTo(1);
            }
            System.out.printf("H2 connection churn failover: %d acknowledged rows all present, %d rows in all (%d sent), restored epoch %s%n",
                    acked.size(), present.size(), sent.size(), ((Json) backup.get("failover")).get("restoredEpoch"));
        }
    }

    private static String url(InetSocketAddress proxy) {
        // the socket timeout bounds a client whose connection the kill left hanging
        return "jdbc:h2:tcp://" + proxy.getHostString() + ":" + proxy.getPort() + "/mem:once;DB_CLOSE_DELAY=-1;NETWORK_TIMEOUT=20000";
    }

    private static String payload(long id) {
        return "row " + id + " " + Long.toHexString(id * 0x9E3779B97F4A7C15L);
    }

    /** One closed-loop client: a new JDBC connection per transaction, one write-once row each, until {@code stop}. */
    private static void insertUntil(String url, AtomicBoolean stop, AtomicLong ids, Set<Long> sent, Set<Long> acked) {
        while (!stop.get()) {
            long id = ids.getAndIncrement();
            try (Connection db = DriverManager.getConnection(url, "sa", ""); PreparedStatement ins = db.prepareStatement("INSERT INTO once VALUES (?, ?)")) {
                ins.setLong(1, id);
                ins.setString(2, payload(id));
                sent.add(id);
                if (ins.executeUpdate() == 1) acked.add(id); // autocommit: returned once committed, and released after its epoch's ack
            } catch (SQLException e) {
                try {
                    Thread.sleep(50); // the kill, the failover: try again, with a new id
                } catch (InterruptedException ie) {
                    return;
                }
            }
        }
    }

    /** Every row, through a new connection to the (restored) server. */
    private static Map<Long, String> rows(String url) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            try (Connection db = DriverManager.getConnection(url, "sa", ""); Statement st = db.createStatement();
                 ResultSet rs = st.executeQuery("SELECT id, payload FROM once")) {
                Map<Long, String> m = new HashMap<>();
                while (rs.next()) m.put(rs.getLong(1), rs.getString(2));
                return m;
            } catch (SQLException e) {
                if (System.nanoTime() - deadline > 0) throw e;
                Thread.sleep(200);
            }
        }
    }

    private static Json engineStats(Cluster c) throws java.io.IOException {
        Json p = c.status("primary").orElseThrow();
        Json st = (Json) p.get("engineStats");
        assertThat(st).as("engine stats in " + p).isNotNull();
        return st;
    }
}
