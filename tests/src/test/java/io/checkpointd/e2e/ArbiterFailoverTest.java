package io.checkpointd.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.demo.Cluster;
import io.checkpointd.demo.KvClient;
import io.checkpointd.demo.KvWorkload;
import io.checkpointd.demo.VerificationResult;
import io.checkpointd.protocol.status.Json;
import io.checkpointd.restore.BackupFaults;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Failover under a real ZooKeeper arbiter (in-process server, real daemons): the backup is promoted only once it
 * holds the service's lease, as the generation the counter hands out; while the primary still holds the lease,
 * a backup that cannot hear it does not fail over.
 */
class ArbiterFailoverTest extends E2eTest {
    private static final String SERVICE = "kv";
    /** The counter starts here, so a generation that came from ZooKeeper is recognizable (not the default 1, 2). */
    private static final long SEED_GENERATION = 41;
    private static final Duration SESSION = Duration.ofSeconds(2);
    private static final Duration HEARTBEAT_TIMEOUT = Duration.ofSeconds(1);

    private TestingServer zk;
    private CuratorFramework client;

    @BeforeEach
    void startZooKeeper() throws Exception {
        // 200 ms ticks: sessions of 0.4 to 4 s are allowed, so the daemons' 2 s is not stretched by the server
        zk = new TestingServer(new InstanceSpec(null, -1, -1, -1, true, -1, 200, -1), true);
        client = CuratorFrameworkFactory.newClient(zk.getConnectString(), new RetryOneTime(100));
        client.start();
        client.blockUntilConnected();
        client.create().creatingParentsIfNeeded().forPath("/checkpointd/" + SERVICE + "/generation",
                Long.toString(SEED_GENERATION).getBytes(StandardCharsets.US_ASCII));
    }

    @AfterEach
    void stopZooKeeper() throws Exception {
        if (client != null) client.close();
        if (zk != null) zk.close();
    }

    private Cluster.Options options(List<String> backupJvmArgs) {
        return Cluster.Options.of(tmp).withEpoch(Duration.ofMillis(100)).withHeartbeatTimeout(HEARTBEAT_TIMEOUT)
                .withBackupJvmArgs(backupJvmArgs).withArbiter("zk://" + zk.getConnectString() + "/checkpointd", SERVICE, SESSION);
    }

    private long counter() throws Exception {
        return Long.parseLong(new String(client.getData().forPath("/checkpointd/" + SERVICE + "/generation"), StandardCharsets.US_ASCII));
    }

    private String leaseHolder() throws Exception {
        return client.checkExists().forPath("/checkpointd/" + SERVICE + "/lease") == null ? null
                : new String(client.getData().forPath("/checkpointd/" + SERVICE + "/lease"), StandardCharsets.UTF_8);
    }

    @Test
    @Timeout(180)
    void aKilledPrimaryIsReplacedOnceTheBackupHoldsTheLease() throws Exception {
        try (Cluster c = Cluster.start(options(List.of()));
             KvWorkload load = new KvWorkload(KvWorkload.Config.of(c.proxyAddress()).withThreads(4))) {
            Json primary = c.awaitLiveStatus("primary", Duration.ofSeconds(10));
            assertThat(primary.get("generation")).as("the primary's generation comes from the counter").isEqualTo(SEED_GENERATION + 1);
            assertThat(leaseHolder()).as("the primary holds the lease").startsWith("primary pid");
            load.start();
            load.awaitAcked(20, Duration.ofSeconds(30)); // writes flow before any fault
            Thread.sleep(1500);
            KvWorkload.Acked atKill = load.snapshot();
            c.killPrimary(); // SIGKILL: its session lives on at ZooKeeper until the session timeout

            Json backup = c.awaitFailover(Duration.ofSeconds(60));
            String ctx = "acked at kill " + atKill + "; backup " + backup + E2eSupport.logs(c);
            long gen = (Long) ((Json) backup.get("failover")).get("generation");
            assertThat(gen).as("the failover's generation is the counter's next value; " + ctx).isEqualTo(SEED_GENERATION + 2).isEqualTo(counter());
            assertThat(leaseHolder()).as(ctx).startsWith("backup pid");
            assertThat(Files.readString(c.logDir().resolve("backup.log"))).contains("is ours");

            Thread.sleep(1000); // clients reconnect through the proxy and go on writing to the restored service
            load.stop();
            load.awaitTermination(Duration.ofSeconds(30));
            assertThat(load.unexpectedFailures()).as(ctx).isEmpty();
            VerificationResult v = load.verify(c.proxyAddress(), Duration.ofSeconds(30), atKill);
            assertThat(v.ok()).as(v.summary() + "; " + ctx).isTrue();
            assertThat(v.ackedAtFault()).as(ctx).isPositive();
            try (KvClient kv = KvClient.connect(c.proxyAddress())) {
                assertThat(kv.put("after-failover", "yes")).isTrue();
                assertThat(kv.get("after-failover")).contains("yes");
            }
        }
    }

    @Test
    @Timeout(180)
    void aBackupCutOffFromALivePrimaryWaitsUntilThePrimaryLosesTheLease() throws Exception {
        Path partition = tmp.resolve("partition");
        try (Cluster c = Cluster.start(options(List.of("-D" + BackupFaults.DROP_PRIMARY_FRAMES_FILE_PROPERTY + "=" + partition)));
             KvWorkload load = new KvWorkload(KvWorkload.Config.of(c.proxyAddress()).withThreads(4)
                     .withTimeouts(Duration.ofSeconds(2), Duration.ofSeconds(60)))) {
            load.start();
            load.awaitAcked(20, Duration.ofSeconds(30)); // writes flow before any fault
            Thread.sleep(1500);
            Files.createFile(partition); // the backup hears nothing from the primary; both still reach ZooKeeper

            // heartbeat timeout, then a whole attempt at the lease (twice the session timeout), and some more
            Thread.sleep(HEARTBEAT_TIMEOUT.plus(SESSION.multipliedBy(2)).plusSeconds(2).toMillis());
            long ackedDuring = load.progress().ackedWrites();
            Json backup = c.status("backup").orElseThrow();
            String ctx = "backup " + backup + E2eSupport.logs(c);
            assertThat(backup.get("state")).as("no failover while the primary holds the lease; " + ctx).isEqualTo("replicating");
            assertThat(Files.readString(c.logDir().resolve("backup.log"))).as(ctx).contains("NOT failing over").contains("still held by primary");
            assertThat(c.protectProcess().isAlive()).as("the primary keeps running; " + ctx).isTrue();
            assertThat(leaseHolder()).as(ctx).startsWith("primary pid");
            assertThat(counter()).as("nobody took a generation; " + ctx).isEqualTo(SEED_GENERATION + 1);
            Thread.sleep(1000);
            assertThat(load.progress().ackedWrites()).as("no acks, so no output released during the partition; " + ctx).isEqualTo(ackedDuring);

            KvWorkload.Acked atKill = load.snapshot();
            c.killPrimary(); // now the primary's session ends and the backup can take the lease
            Json after = c.awaitFailover(Duration.ofSeconds(60));
            String ctx2 = "backup " + after + E2eSupport.logs(c);
            assertThat((Long) ((Json) after.get("failover")).get("generation")).as(ctx2).isEqualTo(SEED_GENERATION + 2).isEqualTo(counter());
            assertThat(leaseHolder()).as(ctx2).startsWith("backup pid");

            Thread.sleep(1000);
            load.stop();
            load.awaitTermination(Duration.ofSeconds(70));
            assertThat(load.unexpectedFailures()).as(ctx2).isEmpty();
            VerificationResult v = load.verify(c.proxyAddress(), Duration.ofSeconds(30), atKill);
            assertThat(v.ok()).as(v.summary() + "; " + ctx2).isTrue();
            assertThat(v.ackedAtFault()).as(ctx2).isPositive();
        }
    }
}
