package io.checkpointd.e2e.hosts;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.demo.KvClient;
import io.checkpointd.demo.hosts.Host;
import io.checkpointd.demo.hosts.HostCluster;
import io.checkpointd.protocol.status.Json;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A client's TCP connection to the protected service survives the failure of the primary host: the service has an
 * address of its own, which the backup takes over ({@code backup --service-address}); the engine captured the
 * connection's repair state with every epoch, and CRIU restores it established. The client, in another namespace,
 * keeps its one connection (no reset, no end of file) and finds every write it made before the failure.
 *
 * <p>The host fails as a whole: its cable is cut, then every process on it is killed, so nothing it sends afterwards
 * (the kernel's FIN for the killed service's sockets) reaches the client. The kill comes at a quiet instant, after
 * the last reply was acknowledged and then captured by a committed epoch: without the packet hold (issue 16), bytes
 * the primary's kernel acknowledged after the last committed epoch would be lost to a restored connection. The
 * scenario runs over IPv4 (gratuitous ARP) and IPv6 (Neighbor Advertisement); in both, the neighbour entries for
 * the address, of the client and of a host that knew it but does not talk to the service, must have moved to the
 * backup host's MAC by the end of the failover.
 */
class ConnectionTakeoverTest extends HostTest {
    private static final int WRITES = 50;
    /** From the end of the failover to the first answer on the old connection. */
    private static final Duration STALL_BOUND = Duration.ofSeconds(10);

    @Test
    @Timeout(300)
    void aClientConnectionGoesOnAgainstTheRestoredService() throws Exception {
        goesOn(HostCluster.Options.of(tmp).withAddressTakeover());
    }

    /**
     * The same over IPv6: the backup adds the address and sends an unsolicited Neighbor Advertisement. A neighbour
     * that knew the address at the primary's MAC and does not talk to the restored service (the front host: the
     * client's own entry is also fixed by the backup's neighbour solicitation for it, sourced from the address, as
     * soon as a restored connection sends) has it at the backup's MAC once the failover is done: without the
     * advertisement it would keep the dead host's MAC until neighbour discovery gave up on it.
     */
    @Test
    @Timeout(300)
    void anIpv6ClientConnectionGoesOnAgainstTheRestoredService() throws Exception {
        goesOn(HostCluster.Options.of(tmp).withAddressTakeover6());
    }

    /**
     * IPv6 with the packet hold ({@code protect --hold packets --service-address}): protect finds the IPv6 address on
     * its host and holds its packets with an {@code ip6tables} rule; the connection goes on the same way.
     */
    @Test
    @Timeout(300)
    void anIpv6ClientConnectionGoesOnWithThePacketHold() throws Exception {
        goesOn(HostCluster.Options.of(tmp).withAddressTakeover6().withPacketHold());
    }

    private void goesOn(HostCluster.Options opts) throws Exception {
        try (HostCluster c = HostCluster.start(opts);
             KvClient client = KvClient.connect(c.serviceAddress(), Duration.ofSeconds(5), Duration.ofSeconds(30))) {
            for (int i = 0; i < WRITES; i++) assertThat(client.put("k" + i, "v" + i)).isTrue();
            assertThat(client.get("k7")).contains("v7");
            String vip = c.serviceIp(), oldMac = c.primaryHost().mac(), newMac = c.backupHost().mac();
            assertThat(c.hosts().testNeighbour(vip)).as("the client's neighbour entry for " + vip + " before the failure")
                    .contains("lladdr " + oldMac).doesNotContain("FAILED");
            Host observer = c.frontHost();
            observer.learnNeighbour(vip, oldMac);
            long acked = c.status("primary").map(s -> (Long) s.get("lastAckedEpoch")).orElse(0L);
            c.awaitAckedEpoch(acked + 3, Duration.ofSeconds(30)); // the quiet connection, captured and committed
            c.primaryHost().cutOff();
            c.killPrimaryHost();
            Json backup = c.awaitFailover(Duration.ofSeconds(60));
            String ctx = "backup " + backup + c.logs();
            // the announcement went out before the restore; only it reaches a neighbour the service does not talk to
            assertThat(observer.neighbour(vip)).as("the front host's neighbour entry for " + vip + " after the failover (announced); " + ctx)
                    .contains("lladdr " + newMac);
            assertThat(c.hosts().testNeighbour(vip)).as("the client's neighbour entry for " + vip + " after the failover; " + ctx)
                    .contains("lladdr " + newMac);
            long t0 = System.nanoTime();
            assertThat(client.put("after", "yes")).as("a write on the same connection; " + ctx).isTrue();
            long stallMs = (System.nanoTime() - t0) / 1_000_000;
            for (int i = 0; i < WRITES; i++) assertThat(client.get("k" + i)).as(ctx).contains("v" + i);
            assertThat(client.get("after")).contains("yes");
            assertThat(Duration.ofMillis(stallMs)).as("first answer after the failover; " + ctx).isLessThan(STALL_BOUND);
            Json f = (Json) backup.get("failover");
            System.out.printf("connection takeover (%s): the client's connection went on; failover %s ms (restore %s ms), first answer %d ms after it%n",
                    vip, f.get("failoverMs"), f.get("restoreMs"), stallMs);
        }
    }
}
