package io.checkpointd.e2e.hosts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.checkpointd.demo.KvWorkload;
import io.checkpointd.demo.VerificationResult;
import io.checkpointd.demo.hosts.HostCluster;
import io.checkpointd.e2e.E2eSupport;
import io.checkpointd.protocol.status.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** What every hosts test needs (root, CRIU, ip, nsenter) and the checks every one of them ends with. */
final class HostChecks {
    private HostChecks() {
    }

    static void assumeRootCriuAndNamespaces() {
        E2eSupport.assumeRootAndCriu();
        for (String tool : new String[] {"/usr/bin/nsenter", "/usr/bin/unshare"}) {
            assumeTrue(Files.isExecutable(Path.of(tool)) || Files.isExecutable(Path.of("/bin/" + Path.of(tool).getFileName())), "needs " + tool);
        }
    }

    /**
     * The end of every test, after a failover to {@code failover} (the backup's status): every acknowledged write
     * is present (read back through the proxy), those acknowledged before the fault ({@code atFault}) among them; the proxy released no epoch of the old generation that the backup
     * had not committed; exactly one older generation exists and it is the only one that ever held output released
     * by a primary (the new one runs in passthrough after the restore).
     */
    static void assertAfterFailover(HostCluster c, KvWorkload load, KvWorkload.Acked atFault, Json backupStatus, String ctx)
            throws Exception {
        VerificationResult v = load.verify(c.proxyAddress(), Duration.ofSeconds(30), atFault);
        assertThat(v.ok()).as("every acknowledged write present: " + v.summary() + "; " + ctx).isTrue();
        assertThat(v.ackedAtFault()).as(ctx).isPositive();
        Json f = (Json) backupStatus.get("failover");
        long newGen = (Long) f.get("generation");
        long restoredEpoch = (Long) f.get("restoredEpoch");
        Json proxy = awaitProxyGeneration(c, newGen);
        assertThat(proxy.get("generation")).as("the proxy follows the newest generation; " + ctx).isEqualTo(newGen);
        List<?> old = (List<?>) proxy.get("superseded");
        assertThat(old).as("one superseded generation; proxy " + proxy + "; " + ctx).hasSize(1);
        Json g1 = (Json) old.get(0);
        assertThat(g1.get("generation")).isEqualTo(newGen - 1);
        long released = (Long) g1.get("lastReleasedEpoch");
        assertThat(released).as("no output released from an epoch the backup had not committed (restored epoch "
                + restoredEpoch + "); proxy " + proxy + "; " + ctx).isLessThanOrEqualTo(restoredEpoch);
        assertThat(g1.get("passthrough")).as(ctx).isEqualTo(false);
        assertThat(backupStatus.get("fencedGeneration")).as("the old generation is fenced at the backup; " + ctx).isEqualTo(newGen - 1);
    }

    /** The proxy's status once it is at generation {@code gen} (published every 200 ms). */
    static Json awaitProxyGeneration(HostCluster c, long gen) throws Exception {
        return E2eSupport.awaitProxyGeneration(() -> c.status("proxy").orElseThrow(), gen);
    }

    static long num(Json j, String field) {
        return ((Number) j.get(field)).longValue();
    }
}
