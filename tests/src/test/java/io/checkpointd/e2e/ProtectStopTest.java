package io.checkpointd.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.demo.Cluster;
import io.checkpointd.demo.KvClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Timeout;

/**
 * SIGTERM to {@code protect} at any moment, mid-epoch included: it finishes the epoch, thaws, and leaves the
 * freezer cgroup before it exits. The service is never left frozen.
 */
class ProtectStopTest extends E2eTest {
    @RepeatedTest(3)
    @Timeout(120)
    void stoppingProtectNeverLeavesTheServiceFrozen() throws Exception {
        try (Cluster c = Cluster.start(Cluster.Options.of(tmp).withEpoch(Duration.ofMillis(25)))) {
            Thread.sleep(300 + new java.util.Random().nextInt(700));
            c.protectProcess().destroy(); // SIGTERM
            assertThat(c.protectProcess().waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(c.protectProcess().exitValue()).as(E2eSupport.logs(c)).isIn(0, 143);
            Path cgroup = Path.of("/sys/fs/cgroup/freezer/checkpointd/" + c.servicePid());
            assertThat(cgroup).as("the freezer cgroup is gone" + E2eSupport.logs(c)).doesNotExist();
            try (KvClient direct = KvClient.connect(c.serviceAddress(), Duration.ofSeconds(2), Duration.ofSeconds(2))) {
                direct.ping();
                assertThat(direct.put("still", "running")).isTrue();
            }
            assertThat(Files.readString(c.logDir().resolve("protect.log"))).contains("protection of pid " + c.servicePid() + " stopped");
        }
    }
}
