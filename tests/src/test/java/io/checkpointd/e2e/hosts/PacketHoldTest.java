package io.checkpointd.e2e.hosts;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.e2e.BoundedRuns;
import io.checkpointd.protocol.status.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.Timeout;

/**
 * {@code protect --hold packets}: what the protected process sends by itself — UDP datagrams and lines on its own
 * outbound TCP connection, each carrying its in-memory counter — reaches the sink only once the backup has the
 * epoch it was sent in. So after a failover the restored service's counter (the first number it sends from the
 * backup host) is at least every number the sink ever got from the primary. Connections do not survive the failover
 * here (TCP repair is separate work): the restored service connects again, from its restored counter.
 */
class PacketHoldTest extends HostTest {
    private static final Duration RUN_BOUND = Duration.ofMinutes(5);

    /** Host failure of the primary at a random moment; three repetitions, {@code -Dcheckpointd.soak=N} runs N. */
    @TestFactory
    Stream<DynamicTest> nothingTheBackupLacksLeavesAtAKillOfThePrimary() {
        return BoundedRuns.soak("packet hold kill", 3, RUN_BOUND, this::killRun);
    }

    private void killRun(int rep) throws Exception {
        long seed = System.nanoTime() ^ rep;
        long killAfterMs = 300 + new Random(seed).nextInt(2500);
        Path dir = Files.createDirectories(tmp.resolve("rep-" + rep));
        try (HoldCluster c = HoldCluster.start(dir, Duration.ofSeconds(1))) {
            String p = c.primaryHost().address(), b = c.backupHost().address();
            awaitFrom(c, p, false, 20, Duration.ofSeconds(20)); // released output flows before the fault
            awaitFrom(c, p, true, 20, Duration.ofSeconds(20));
            Thread.sleep(killAfterMs);
            Json before = c.primaryStatus().orElseThrow();
            c.primaryHost().kill();
            Json backup = c.awaitFailover(Duration.ofSeconds(60));
            String ctx = "rep " + rep + ", seed " + seed + ", killed after " + killAfterMs + " ms; primary " + before
                    + "; backup " + backup + c.logs();
            assertRestoredCounterCoversWhatLeft(c, p, b, ctx);
            Json hold = (Json) before.get("packetHold");
            assertThat(hold).as(ctx).isNotNull();
            assertThat(((Number) hold.get("releasedPackets")).longValue()).as(ctx).isPositive();
            assertThat(((Number) hold.get("markedSockets")).longValue()).as("the UDP socket, the TCP one, the listener; " + ctx)
                    .isGreaterThanOrEqualTo(3);
            System.out.printf("packet hold kill %d: killed after %d ms; %s udp / %s tcp numbers from the primary%n", rep,
                    killAfterMs, c.sink().from(p, false).size(), c.sink().from(p, true).size());
        }
    }

    /**
     * Primary and backup cut apart: the primary gets no ack, so it releases nothing more; the backup takes over and
     * restores on its host, taking over the service's own address. The sink gets nothing from the old primary after
     * the cut, also after the heal, when the old primary learns it was fenced, takes the service address off its
     * host, drops what it held and kills its service.
     */
    @Test
    @Timeout(240)
    void anIsolatedOldPrimaryNeverReleasesWhatItHeld() throws Exception {
        try (HoldCluster c = HoldCluster.start(tmp, Duration.ofSeconds(3), HoldCluster.Setup.heldOutput().withTakeover())) {
            String p = c.primaryHost().address(), b = c.backupHost().address();
            awaitFrom(c, p, false, 20, Duration.ofSeconds(20));
            Thread.sleep(1000);
            c.hosts().partition(c.primaryHost(), c.backupHost());
            long cut = System.nanoTime();
            Json backup = c.awaitFailover(Duration.ofSeconds(60));
            Thread.sleep(1000);
            Json held = c.primaryStatus().orElseThrow();
            c.hosts().heal(c.primaryHost(), c.backupHost());
            int exit = c.protect().waitFor(Duration.ofSeconds(90));
            Thread.sleep(2000); // anything the old primary let out after the heal has arrived by now
            String ctx = "primary while partitioned " + held + "; backup " + backup + c.logs();
            assertThat(exit).as("the old primary learns it was fenced; " + ctx).isEqualTo(3);
            assertThat(c.primaryHost().exec("ip", "-o", "addr", "show", "to", c.serviceIp() + "/32").output().strip())
                    .as("the fenced primary took the service address off its host; " + ctx).isEmpty();
            Json hold = (Json) held.get("packetHold");
            assertThat(((Number) hold.get("heldPackets")).longValue()).as("it held output while cut off; " + ctx).isPositive();
            long grace = Duration.ofMillis(500).toNanos(); // released just before the cut: on the wire
            List<OutputSink.Seen> late = c.sink().from(p, false).stream().filter(s -> s.nanos() - cut > grace).toList();
            List<OutputSink.Seen> lateTcp = c.sink().from(p, true).stream().filter(s -> s.nanos() - cut > grace).toList();
            assertThat(late).as("datagrams from the old primary after the cut; " + ctx).isEmpty();
            assertThat(lateTcp).as("TCP lines from the old primary after the cut; " + ctx).isEmpty();
            assertRestoredCounterCoversWhatLeft(c, p, b, ctx);
            System.out.printf("packet hold partition: %s held at the heal, old primary exit %d%n", hold.get("heldPackets"), exit);
        }
    }

    /** The restored service's first numbers (from the backup host) are at least every number the primary let out. */
    static void assertRestoredCounterCoversWhatLeft(HoldCluster c, String p, String b, String ctx) throws Exception {
        awaitFrom(c, b, false, 1, Duration.ofSeconds(30));
        awaitFrom(c, b, true, 1, Duration.ofSeconds(30));
        OutputSink sink = c.sink();
        long maxUdp = sink.from(p, false).stream().mapToLong(OutputSink.Seen::seq).max().orElse(0);
        long maxTcp = sink.from(p, true).stream().mapToLong(OutputSink.Seen::seq).max().orElse(0);
        long restoredUdp = sink.from(b, false).stream().mapToLong(OutputSink.Seen::seq).min().orElseThrow();
        long restoredTcp = sink.from(b, true).stream().mapToLong(OutputSink.Seen::seq).min().orElseThrow();
        String figures = "primary let out udp <= " + maxUdp + ", tcp <= " + maxTcp + "; restored service starts at udp " + restoredUdp
                + ", tcp " + restoredTcp + "; ";
        assertThat(maxUdp).as("UDP: " + figures + ctx).isPositive().isLessThanOrEqualTo(restoredUdp);
        assertThat(maxTcp).as("TCP: " + figures + ctx).isPositive().isLessThanOrEqualTo(restoredTcp);
        System.out.println("packet hold: " + figures);
    }

    static void awaitFrom(HoldCluster c, String from, boolean tcp, int n, Duration max) throws Exception {
        long until = System.nanoTime() + max.toNanos();
        while (c.sink().from(from, tcp).size() < n) {
            if (System.nanoTime() > until) {
                throw new AssertionError("the sink got " + c.sink().from(from, tcp).size() + " " + (tcp ? "TCP lines" : "datagrams")
                        + " from " + from + " within " + max + "; primary " + c.primaryStatus().orElse(null) + c.logs());
            }
            Thread.sleep(20);
        }
    }
}
