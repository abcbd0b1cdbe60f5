package io.checkpointd.e2e.hosts;

import static io.checkpointd.e2e.hosts.HostChecks.num;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.checkpointd.demo.KvClient;
import io.checkpointd.demo.KvWorkload;
import io.checkpointd.demo.VerificationResult;
import io.checkpointd.demo.hosts.HostCluster;
import io.checkpointd.protocol.auth.ChannelKey;
import io.checkpointd.protocol.control.ControlRejectedException;
import io.checkpointd.protocol.control.ProxyControlClient;
import io.checkpointd.protocol.status.Json;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Network partitions between the hosts of a protected service (see docs/operations.md, "Partitions"). */
class PartitionTest extends HostTest {
    /**
     * Primary and backup cannot reach each other, both alive. The primary gets no acks, so none of its later
     * output is released; the backup takes over after its heartbeat timeout (it cannot tell a partition from a
     * dead primary) and restores on its host, and the proxy follows it. The old primary keeps running until the
     * partition heals; then it learns that it was fenced (higher generation), kills its service and exits 3.
     */
    @Test
    @Timeout(180)
    void primaryBackupPartitionFencesTheOldPrimaryAndNeverReleasesItsOutput() throws Exception {
        HostCluster.Options o = HostCluster.Options.of(tmp).withHeartbeatTimeout(Duration.ofSeconds(3));
        try (HostCluster c = HostCluster.start(o);
             KvWorkload load = new KvWorkload(KvWorkload.Config.of(c.proxyAddress()).withThreads(2))) {
            load.start();
            load.awaitAcked(20, Duration.ofSeconds(30)); // writes flow before any fault
            Thread.sleep(1500);
            c.hosts().partition(c.primaryHost(), c.backupHost());
            long t0 = System.nanoTime();
            Thread.sleep(1000); // an ack in flight at the cut has arrived or is lost by now; heartbeat timeout is 3 s
            Json proxyCut = c.status("proxy").orElseThrow();
            long ackedCut = load.progress().ackedWrites();
            KvWorkload.Acked atCut = load.snapshot(); // generation 1 can release nothing more
            String ctx0 = "proxy at the cut " + proxyCut;
            assertThat(proxyCut.get("generation")).as(ctx0).isEqualTo(1L);

            Json backup = c.awaitFailover(Duration.ofSeconds(60));
            long tookMs = (System.nanoTime() - t0) / 1_000_000;
            String ctx = ctx0 + "; backup " + backup + c.logs();
            assertThat(tookMs).as("failover after the heartbeat timeout; " + ctx).isGreaterThanOrEqualTo(2900);
            assertThat(c.protect().isAlive()).as("the old primary runs on while partitioned; " + ctx).isTrue();
            assertThat(c.service().isAlive()).as("so does its service (another host: the backup cannot kill it); " + ctx).isTrue();
            Json proxyAfter = HostChecks.awaitProxyGeneration(c, 2);
            Json g1 = (Json) ((List<?>) proxyAfter.get("superseded")).get(0);
            assertThat(num(g1, "lastReleasedEpoch")).as("nothing of generation 1 released after the cut; " + ctx)
                    .isEqualTo(num(proxyCut, "lastReleasedEpoch"));
            Thread.sleep(1000); // clients reconnect and write to the restored service
            assertThat(load.progress().ackedWrites()).as("the restored service serves; " + ctx).isGreaterThan(ackedCut);

            c.hosts().heal(c.primaryHost(), c.backupHost());
            int exit = c.protect().waitFor(Duration.ofSeconds(90));
            assertThat(exit).as("the old primary learns it was fenced and exits 3; " + ctx + c.logs()).isEqualTo(3);
            assertThat(c.service().waitFor(Duration.ofSeconds(10))).as("and killed its superseded service").isNotEqualTo(-1);
            assertThat(c.service().isAlive()).isFalse();

            // what the old primary would send now is refused by the proxy (its control channel still works)
            ChannelKey key = ChannelKey.load(c.authKeyFile());
            try (ProxyControlClient proxy = ProxyControlClient.connect(c.controlAddress(), key, Duration.ofSeconds(2))) {
                assertThatThrownBy(() -> proxy.seal(1, 1_000_000, Duration.ofSeconds(2))).isInstanceOf(ControlRejectedException.class);
                proxy.release(1, 1_000_000);
                assertThatThrownBy(() -> proxy.sync(Duration.ofSeconds(2))).isInstanceOf(ControlRejectedException.class);
            }
            Thread.sleep(1000);
            load.stop();
            load.awaitTermination(Duration.ofSeconds(30));
            Json proxyEnd = HostChecks.awaitProxyGeneration(c, 2);
            assertThat(num(proxyEnd, "rejectedControlMessages")).as(ctx).isGreaterThanOrEqualTo(2);
            assertThat(load.unexpectedFailures()).as(ctx).isEmpty();
            HostChecks.assertAfterFailover(c, load, atCut, c.status("backup").orElseThrow(), ctx);
            System.out.printf("partition primary|backup: failover %d ms after the cut; old primary exit %d after heal%n", tookMs, exit);
        }
    }

    /**
     * The proxy (front host) cannot reach the primary; the backup still hears it. Clients get nothing new (the
     * proxy cannot reach the service, and it holds output), and no failover happens: the backup's heartbeats
     * arrive. The primary's epochs fail at the seal (the proxy is unreachable) and are retried. When the partition
     * heals, output flows again and nothing acknowledged is lost.
     */
    @Test
    @Timeout(180)
    void proxyPrimaryPartitionHoldsOutputWithoutFailover() throws Exception {
        try (HostCluster c = HostCluster.start(HostCluster.Options.of(tmp));
             KvWorkload load = new KvWorkload(KvWorkload.Config.of(c.proxyAddress()).withThreads(2))) {
            load.start();
            load.awaitAcked(20, Duration.ofSeconds(30)); // writes flow before any fault
            Thread.sleep(1500);
            long ackedBefore = load.progress().ackedWrites();
            c.hosts().partition(c.primaryHost(), c.frontHost());
            Thread.sleep(1000); // replies already released when the cut happened reach the clients by now
            long ackedCut = load.progress().ackedWrites();
            Json proxyCut = c.status("proxy").orElseThrow();
            long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            while (System.nanoTime() < deadline) {
                Json b = c.status("backup").orElseThrow();
                assertThat(b.get("state")).as("no failover while the backup hears the primary: " + b + c.logs()).isEqualTo("replicating");
                Thread.sleep(200);
            }
            long ackedDuring = load.progress().ackedWrites();
            Json proxyDuring = c.status("proxy").orElseThrow();
            String ctx = "acked before " + ackedBefore + ", at the cut " + ackedCut + ", 5 s later " + ackedDuring + "; proxy "
                    + proxyCut + " then " + proxyDuring + c.logs();
            assertThat(ackedDuring).as("clients get nothing new while the front cannot reach the primary; " + ctx).isEqualTo(ackedCut);
            assertThat(num(proxyDuring, "lastReleasedEpoch")).as(ctx).isEqualTo(num(proxyCut, "lastReleasedEpoch"));
            assertThat(c.protect().isAlive()).as(ctx).isTrue();

            c.hosts().heal(c.primaryHost(), c.frontHost());
            long healDeadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (load.progress().ackedWrites() <= ackedDuring + 20 && System.nanoTime() < healDeadline) Thread.sleep(100);
            assertThat(load.progress().ackedWrites()).as("output flows again after the heal; " + ctx).isGreaterThan(ackedDuring + 20);
            load.stop();
            load.awaitTermination(Duration.ofSeconds(30));

            assertThat(load.unexpectedFailures()).as(ctx).isEmpty();
            VerificationResult v = load.verify(c.proxyAddress(), Duration.ofSeconds(30));
            assertThat(v.ok()).as(v.summary() + "; " + ctx).isTrue();
            Json proxy = c.status("proxy").orElseThrow();
            Json backup = c.status("backup").orElseThrow();
            assertThat(proxy.get("generation")).as("one generation throughout; " + ctx).isEqualTo(1L);
            assertThat((List<?>) proxy.get("superseded")).as(ctx).isEmpty();
            assertThat(backup.get("state")).isEqualTo("replicating");
            assertThat(num(backup, "fencedGeneration")).as(ctx).isLessThan(1);
            Thread.sleep(300); // the proxy and backup publish independently: compare the release against a newer commit
            assertThat(num(proxy, "lastReleasedEpoch")).as("released only committed epochs; " + ctx)
                    .isLessThanOrEqualTo(num(c.status("backup").orElseThrow(), "committedEpoch"));
            try (KvClient client = KvClient.connect(c.proxyAddress())) {
                assertThat(client.put("after-heal", "yes")).isTrue();
                assertThat(client.get("after-heal")).contains("yes");
            }
            assertThat(c.protect().isAlive()).as("the primary protects on; " + ctx).isTrue();
        }
    }
}
