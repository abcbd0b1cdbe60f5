package io.checkpointd.e2e.hosts;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.protocol.status.Json;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code protect --hold packets --on-backup-loss continue}: when the backup is lost, the held packets go out and the
 * hold passes the process's packets straight (status {@code unprotected}, {@code packetHold.passing}), so the
 * service's output keeps flowing; when the backup is back, packets are held again from the next epoch on: a host
 * failure after that loses nothing the sink saw (the restored counter covers every number the primary let out).
 */
class HeldBackupLossTest extends HostTest {
    /** The service sends a datagram about every 2 ms: in a second unprotected, well over this many get out. */
    private static final int PASSED_IN_A_SECOND = 50;

    @Test
    @Timeout(300)
    void continuePassesPacketsWhileTheBackupIsLostAndHoldsThemAgainWhenItIsBack() throws Exception {
        HoldCluster.Setup setup = HoldCluster.Setup.heldOutput().withProtectArgs(List.of("--on-backup-loss", "continue"));
        // the backup's own failure detector is not under test: a longer timeout keeps the full sync after its return
        // from looking like a dead primary
        try (HoldCluster c = HoldCluster.start(tmp, Duration.ofSeconds(3), setup)) {
            String p = c.primaryHost().address(), b = c.backupHost().address();
            PacketHoldTest.awaitFrom(c, p, false, 20, Duration.ofSeconds(20));
            c.backupDaemon().kill();
            Json lost = awaitPrimary(c, st -> Boolean.TRUE.equals(st.get("unprotected")), "unprotected");
            int before = c.sink().from(p, false).size();
            Thread.sleep(1000);
            int passed = c.sink().from(p, false).size() - before;
            Json during = c.primaryStatus().orElseThrow();
            String ctx = "primary at the loss " + lost + "; a second later " + during + c.logs();
            Json hold = (Json) during.get("packetHold");
            assertThat(hold.get("passing")).as("the hold passes packets; " + ctx).isEqualTo(true);
            assertThat(((Number) hold.get("heldPackets")).longValue()).as("nothing stays held; " + ctx).isZero();
            assertThat(passed).as("datagrams that got out in a second without a backup; " + ctx).isGreaterThanOrEqualTo(PASSED_IN_A_SECOND);
            assertThat(Files.readString(tmp.resolve("logs").resolve("protect.log"))).contains("runs UNPROTECTED");

            c.restartBackup();
            Json back = awaitPrimary(c, st -> Boolean.FALSE.equals(st.get("unprotected")) && st.get("lastAckedEpoch") instanceof Long l
                    && l > ((Number) during.get("lastAckedEpoch")).longValue() + 3, "protected again");
            Json holdAgain = (Json) back.get("packetHold");
            assertThat(holdAgain.get("passing")).as("held again; " + back + c.logs()).isEqualTo(false);
            Thread.sleep(500);
            c.primaryHost().kill();
            Json failover = c.awaitFailover(Duration.ofSeconds(60));
            PacketHoldTest.assertRestoredCounterCoversWhatLeft(c, p, b, "after the backup came back; primary " + back + "; backup " + failover + c.logs());
            System.out.printf("held backup loss: %d datagrams passed in the second without a backup (%s packets passed in all); "
                    + "held again once it was back%n", passed, hold.get("passedPackets"));
        }
    }

    private static Json awaitPrimary(HoldCluster c, Predicate<Json> ok, String what) throws Exception {
        long until = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            Json st = c.primaryStatus().orElse(null);
            if (st != null && ok.test(st)) return st;
            if (System.nanoTime() > until) throw new AssertionError("the primary is not " + what + " within 60 s: " + st + c.logs());
            Thread.sleep(50);
        }
    }
}
