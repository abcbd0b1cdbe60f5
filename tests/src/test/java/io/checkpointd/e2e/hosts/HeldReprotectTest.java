package io.checkpointd.e2e.hosts;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.protocol.status.Json;
import java.nio.file.Files;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Re-protection keeps the packet hold: the primary protects {@link HeldOutputService} with {@code --hold packets};
 * after the primary host fails, the backup restores the service on its host and re-protects it toward a spare
 * ({@code --reprotect-to}) with the old primary's {@code --hold packets}, which it learned from the primary's Hello.
 * The re-protecting primary holds (its status has {@code packetHold}, packets are released on the spare's acks),
 * and when the backup host fails in turn, the service restored on the spare has a counter at least every number the
 * sink got from the backup host: nothing left there before the spare had its epoch.
 */
class HeldReprotectTest extends HostTest {
    @Test
    @Timeout(300)
    void theReprotectingPrimaryHoldsPacketsToo() throws Exception {
        try (HoldCluster c = HoldCluster.start(tmp, Duration.ofSeconds(2), HoldCluster.Setup.heldOutput().withSpare())) {
            String p = c.primaryHost().address(), b = c.backupHost().address(), s = c.spareHost().address();
            PacketHoldTest.awaitFrom(c, p, false, 20, Duration.ofSeconds(20));
            Thread.sleep(500);
            c.primaryHost().kill();
            Json first = c.awaitFailover(Duration.ofSeconds(60));
            assertThat(((Json) first.get("failover")).get("newPrimaryPid")).as("re-protection started" + c.logs()).isInstanceOf(Long.class);
            Json reprotecting = awaitReprotected(c, 5, Duration.ofSeconds(90));
            String ctx = "re-protecting primary " + reprotecting + c.logs() + "\n--- reprotect.log ---\n"
                    + Files.readString(c.backupHost().dir().resolve("store").resolve("reprotect.log"));
            Json hold = (Json) reprotecting.get("packetHold");
            assertThat(hold).as("the re-protecting primary holds packets; " + ctx).isNotNull();
            assertThat(((Number) hold.get("releasedPackets")).longValue()).as("released on the spare's acks; " + ctx).isPositive();
            assertThat(Files.readString(c.backupHost().dir().resolve("store").resolve("reprotect.log")))
                    .as("the new primary was started with the old one's hold").contains("packets held on queue");
            PacketHoldTest.awaitFrom(c, b, false, 50, Duration.ofSeconds(30));
            c.backupHost().kill();
            Json second = c.awaitFailoverOn(c.spareHost(), Duration.ofSeconds(60));
            PacketHoldTest.awaitFrom(c, s, false, 1, Duration.ofSeconds(30));
            PacketHoldTest.awaitFrom(c, s, true, 1, Duration.ofSeconds(30));
            long maxUdp = c.sink().from(b, false).stream().mapToLong(OutputSink.Seen::seq).max().orElse(0);
            long maxTcp = c.sink().from(b, true).stream().mapToLong(OutputSink.Seen::seq).max().orElse(0);
            long restoredUdp = c.sink().from(s, false).stream().mapToLong(OutputSink.Seen::seq).min().orElseThrow();
            long restoredTcp = c.sink().from(s, true).stream().mapToLong(OutputSink.Seen::seq).min().orElseThrow();
            String figures = "the backup host let out udp <= " + maxUdp + ", tcp <= " + maxTcp + "; restored on the spare at udp "
                    + restoredUdp + ", tcp " + restoredTcp + "; spare " + second + "; ";
            assertThat(maxUdp).as("UDP: " + figures + ctx).isPositive().isLessThanOrEqualTo(restoredUdp);
            assertThat(maxTcp).as("TCP: " + figures + ctx).isLessThanOrEqualTo(restoredTcp);
            System.out.println("held reprotect: " + figures.substring(0, figures.indexOf("; spare")) + "; re-protecting hold " + hold);
        }
    }

    /** Waits until the re-protecting primary (generation 2, on the backup host) has {@code epoch} acknowledged. */
    private static Json awaitReprotected(HoldCluster c, long epoch, Duration max) throws Exception {
        long until = System.nanoTime() + max.toNanos();
        while (true) {
            Json st = c.statusOn(c.backupHost(), "primary").orElse(null);
            if (st != null && Long.valueOf(2).equals(st.get("generation")) && st.get("lastAckedEpoch") instanceof Long l && l >= epoch) {
                return st;
            }
            if (System.nanoTime() > until) throw new AssertionError("no re-protected epoch " + epoch + " within " + max + ": " + st + c.logs());
            Thread.sleep(50);
        }
    }
}
