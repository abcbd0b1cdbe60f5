package io.checkpointd.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.demo.Cluster;
import io.checkpointd.demo.KvClient;
import io.checkpointd.primary.ship.BackupLink;
import io.checkpointd.protocol.status.Json;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The ship is a stage of its own: with every epoch's END held back on the ship stage's thread (the fault point
 * {@link BackupLink#END_WRITE_DELAY_PROPERTY}, longer than the epoch interval), the epoch loop still captures the
 * next epoch while the previous one is shipping. Shown by the primary's counter of captures begun while an
 * earlier epoch's frames were queued or being written, not by timing; and a synchronous client through the proxy
 * still gets every reply right, in order, because acks (and so releases) still come in epoch order.
 */
class PipelineTest extends E2eTest {
    private static final int ROUND_TRIPS = 20;
    private static final long END_DELAY_MS = 80;

    @Test
    @Timeout(180)
    void theNextCaptureBeginsWhileTheLastEpochStillShips() throws Exception {
        Cluster.Options opts = Cluster.Options.of(tmp.resolve("cluster")).withEpoch(Duration.ofMillis(25))
                .withProtectJvmArgs(List.of("-D" + BackupLink.END_WRITE_DELAY_PROPERTY + "=" + END_DELAY_MS));
        try (Cluster c = Cluster.start(opts)) {
            long ackedBefore = n(c.status("primary").orElseThrow(), "epochsAcked");
            try (KvClient client = KvClient.connect(c.proxyAddress(), Duration.ofSeconds(2), Duration.ofSeconds(20))) {
                for (int i = 0; i < ROUND_TRIPS; i++) {
                    assertThat(client.put("k" + i, "v" + i)).isTrue();
                    assertThat(client.get("k" + i)).contains("v" + i);
                }
                assertThat(client.get("k0")).contains("v0");
            }
            Json primary = awaitPublished(c, ackedBefore + ROUND_TRIPS);
            String ctx = "primary " + primary + E2eSupport.logs(c);
            Json pipeline = (Json) primary.get("pipeline");
            assertThat(pipeline).as(ctx).isNotNull();
            assertThat(n(pipeline, "capturesWhileShipping")).as("captures overlapped the previous epoch's ship; " + ctx)
                    .isGreaterThanOrEqualTo(ROUND_TRIPS / 2);
            assertThat(n(primary, "epochsAcked") - ackedBefore).as(ctx).isGreaterThanOrEqualTo(ROUND_TRIPS);
            assertThat(n(primary, "lastAckedEpoch")).as("acks follow the epochs shipped; " + ctx)
                    .isLessThanOrEqualTo(n(primary, "lastEpoch"));
            assertThat(n(primary, "rejectedInARow")).as(ctx).isZero();
        }
    }

    /** The primary's status once it has published at least {@code acked} acknowledged epochs (every 200 ms). */
    private static Json awaitPublished(Cluster c, long acked) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        Json p = c.status("primary").orElseThrow();
        while (n(p, "epochsAcked") < acked && System.nanoTime() - deadline < 0) {
            Thread.sleep(50);
            p = c.status("primary").orElseThrow();
        }
        return p;
    }

    private static long n(Json j, String key) {
        return ((Number) j.get(key)).longValue();
    }
}
