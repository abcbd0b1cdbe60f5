package io.checkpointd.e2e.hosts;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.demo.hosts.HostCluster;
import io.checkpointd.e2e.H2TcpServer;
import io.checkpointd.protocol.status.Json;
import java.nio.file.Files;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A JDBC client (H2's driver) commits on one connection to a protected H2 TCP server ({@link H2TcpServer}) through a
 * SIGKILL that comes while it commits: autocommit one-row inserts in a loop, each acknowledged id recorded. Protect
 * holds every packet of the service and of its address ({@code --hold packets --service-address},
 * {@link HostCluster.Options#withPacketHold()}); the backup takes the address over and restores the connection. The
 * loop goes on, on the same connection, until a deadline well after the failover, with no SQLException; then every
 * acknowledged id is in the table. Nothing is cut first: whatever the primary host's kernel sends for the dying
 * service (its sockets' FIN or reset, then resets for sockets that are gone) must not reach the client.
 *
 * <p>The primary host reaps orphaned sockets within a second ({@code net.ipv4.tcp_orphan_retries=1} in its
 * namespace, as {@code tcp_max_orphans} or memory pressure would): the killed service's connection, left in
 * FIN_WAIT1 with its FIN held, is then gone before the backup has the address, and the kernel answers the client's
 * next retransmission with a reset from no socket. With the default (8 retries, about 100 s) the orphan outlives
 * the failover and only acknowledges, so the test would not see that reset. The backup's heartbeat timeout is
 * {@value #HEARTBEAT_TIMEOUT_S} s, so that after a host failure the client retransmits to the dead host a few times
 * after the orphan is gone (with 1 s the takeover came first and a run without the address rule passed).
 */
class JdbcKillTest extends HostTest {
    /** Inserts acknowledged before the kill window opens. */
    private static final int WARM = 50;
    /** The kill comes at a random instant of this window, while the loop commits. */
    private static final int KILL_WINDOW_MS = 1500;
    /** The loop runs this long after the backup reports the failover (a restored connection may wait for a retransmission). */
    private static final Duration AFTER_FAILOVER = Duration.ofSeconds(15);

    private static final int HEARTBEAT_TIMEOUT_S = 4;

    private enum Kill { SERVICE_ONLY, WHOLE_HOST }

    /** (a) The service process alone is SIGKILLed; the primary host and its protect live on. */
    @Test
    @Timeout(300)
    void commitsGoOnThroughAKillOfTheServiceAlone() throws Exception {
        run(Kill.SERVICE_ONLY);
    }

    /** (b) Every process on the primary host is SIGKILLed at once, its cable still plugged in. */
    @Test
    @Timeout(300)
    void commitsGoOnThroughAKillOfThePrimaryHost() throws Exception {
        run(Kill.WHOLE_HOST);
    }

    private void run(Kill kill) throws Exception {
        long seed = System.nanoTime();
        int killAfterMs = new Random(seed).nextInt(KILL_WINDOW_MS);
        ExecutorService loopThread = Executors.newSingleThreadExecutor();
        try (HostCluster c = HostCluster.start(HostCluster.Options.of(tmp).withService(H2TcpServer.class.getName(), null).withPacketHold()
                .withHeartbeatTimeout(Duration.ofSeconds(HEARTBEAT_TIMEOUT_S)))) {
            String url = "jdbc:h2:tcp://" + c.serviceAddress().getAddress().getHostAddress() + ":" + c.serviceAddress().getPort()
                    + "/mem:orders;DB_CLOSE_DELAY=-1";
            reapOrphansQuickly(c);
            try (Connection db = DriverManager.getConnection(url, "sa", "")) {
                try (Statement st = db.createStatement()) {
                    st.execute("CREATE TABLE orders(id BIGINT PRIMARY KEY, item VARCHAR(100))");
                }
                CommitLoop loop = new CommitLoop(db.prepareStatement("INSERT INTO orders VALUES (?, ?)"));
                Future<?> running = loopThread.submit(loop);
                loop.awaitAcked(WARM, Duration.ofSeconds(60));
                Thread.sleep(killAfterMs);
                int ackedAtKill = loop.acked.size();
                if (kill == Kill.SERVICE_ONLY) c.service().kill();
                else c.killPrimaryHost();
                Json backup = c.awaitFailover(Duration.ofSeconds(60));
                int ackedAtFailover = loop.acked.size();
                loop.deadline = System.nanoTime() + AFTER_FAILOVER.toNanos();
                String ctx = kill + ", seed " + seed + ", killed " + killAfterMs + " ms into the window with " + ackedAtKill
                        + " inserts acknowledged; backup " + backup + c.logs();
                try {
                    running.get(AFTER_FAILOVER.toSeconds() + 90, TimeUnit.SECONDS);
                } catch (java.util.concurrent.ExecutionException e) {
                    throw new AssertionError("the commit loop failed on its connection after " + loop.acked.size()
                            + " acknowledged inserts: " + e.getCause() + "; " + ctx, e.getCause());
                }
                List<Long> acked = new ArrayList<>(loop.acked);
                assertThat(acked.size()).as("inserts acknowledged after the failover, on the same connection; " + ctx)
                        .isGreaterThan(ackedAtFailover);
                List<Long> present = new ArrayList<>();
                try (Statement st = db.createStatement(); ResultSet rs = st.executeQuery("SELECT id FROM orders ORDER BY id")) {
                    while (rs.next()) present.add(rs.getLong(1));
                }
                assertThat(present).as("every acknowledged id; " + ctx).containsAll(acked);
                if (kill == Kill.SERVICE_ONLY) {
                    String log = Files.readString(c.logDir().resolve("protect.log"));
                    assertThat(log).as(ctx).contains("removed the service address").contains("told the backup to take over");
                }
                Json f = (Json) backup.get("failover");
                System.out.printf("jdbc kill (%s): killed %d ms into the window at %d acknowledged inserts; %d at the failover "
                        + "(%s ms), %d by the deadline, %d rows present, longest commit %d ms%n", kill, killAfterMs, ackedAtKill,
                        ackedAtFailover, f.get("failoverMs"), acked.size(), present.size(), loop.longestNanos / 1_000_000);
            }
        } finally {
            loopThread.shutdownNow();
            loopThread.awaitTermination(10, TimeUnit.SECONDS);
        }
    }

    private static void reapOrphansQuickly(HostCluster c) throws Exception {
        Process p = new ProcessBuilder("ip", "netns", "exec", c.primaryHost().netns(), "sysctl", "-qw", "net.ipv4.tcp_orphan_retries=1")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as("sysctl on the primary host: " + out).isZero();
    }

    /** Autocommit inserts of ids 0, 1, 2, … on one statement until the deadline; an SQLException ends it (the test fails). */
    private static final class CommitLoop implements java.util.concurrent.Callable<Void> {
        final PreparedStatement ins;
        final List<Long> acked = new CopyOnWriteArrayList<>();
        /** Set once the failover is seen; until then the loop runs on. */
        volatile long deadline = Long.MAX_VALUE;
        volatile long longestNanos;

        CommitLoop(PreparedStatement ins) {
            this.ins = ins;
        }

        @Override
        public Void call() throws SQLException {
            for (long id = 0; deadline == Long.MAX_VALUE || System.nanoTime() - deadline < 0; id++) {
                if (Thread.currentThread().isInterrupted()) return null;
                long t0 = System.nanoTime();
                ins.setLong(1, id);
                ins.setString(2, "item " + id);
                if (ins.executeUpdate() != 1) throw new SQLException("insert of " + id + " changed no row");
                longestNanos = Math.max(longestNanos, System.nanoTime() - t0);
                acked.add(id);
            }
            return null;
        }

        void awaitAcked(int n, Duration max) throws InterruptedException {
            long until = System.nanoTime() + max.toNanos();
            while (acked.size() < n) {
                if (System.nanoTime() - until > 0) throw new AssertionError(acked.size() + " inserts acknowledged within " + max);
                Thread.sleep(5);
            }
        }
    }
}
