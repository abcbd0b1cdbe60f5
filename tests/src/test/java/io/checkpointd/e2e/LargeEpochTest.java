package io.checkpointd.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.demo.Cluster;
import io.checkpointd.protocol.status.Json;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * An epoch whose dirty pages exceed the direct memory the primary may stage them in (here
 * {@code -XX:MaxDirectMemorySize=48m} against about 100 MB written per 2 s epoch) costs that epoch and a CRIU dump,
 * not the protection: protect stays up and epochs keep being acknowledged. It once ended protect with an
 * OutOfMemoryError (a 4 GiB JVM's second epoch, after its first took a minute to ship).
 */
class LargeEpochTest extends E2eTest {
    @Test
    @Timeout(180)
    void anEpochLargerThanTheStagingMemoryDoesNotEndProtection() throws Exception {
        Cluster.ServiceLaunch service = new Cluster.ServiceLaunch(List.of(), List.of("-XX:-UsePerfData", "-Xmx256m", "-XX:+UseSerialGC"), null);
        Cluster.Options opts = Cluster.Options.of(tmp.resolve("cluster")).withEpoch(Duration.ofSeconds(2)).withService(service)
                .withServiceArgs(List.of("--ballast", "128", "--ballast-rate", "50"))
                .withProtectJvmArgs(List.of("-XX:MaxDirectMemorySize=48m"));
        try (Cluster c = Cluster.start(opts, Duration.ofSeconds(90))) {
            long first = acked(c);
            c.awaitAckedEpoch(first + 4, Duration.ofSeconds(90));
            String log = Files.readString(c.logDir().resolve("protect.log"));
            assertThat(log).as("protect's log" + E2eSupport.logs(c)).doesNotContain("OutOfMemoryError")
                    .contains("more than the direct memory left to stage its pages");
        }
    }

    private static long acked(Cluster c) throws Exception {
        Json s = c.status("primary").orElseThrow();
        return ((Number) s.get("lastAckedEpoch")).longValue();
    }
}
