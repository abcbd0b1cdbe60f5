package io.checkpointd.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.checkpointd.demo.Cluster;
import io.checkpointd.demo.KvWorkload;
import io.checkpointd.demo.VerificationResult;
import io.checkpointd.protocol.status.Json;
import java.time.Duration;
import java.util.List;
import io.checkpointd.linux.criu.Criu;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** What every end-to-end test needs: root and a usable CRIU (CI has both; a laptop skips). */
public final class E2eSupport {
    private E2eSupport() {
    }

    /** Root and a usable CRIU (CI has both; a laptop skips). */
    public static void assumeRootAndCriu() {
        assumeTrue(isRoot(), "needs root (CRIU, cgroup freezer)");
        String why = null;
        try {
            Criu.locate();
        } catch (IOException e) {
            why = e.getMessage();
        }
        String reason = why;
        assumeTrue(reason == null, () -> "needs CRIU >= 4.2: " + reason);
    }

    public static boolean isRoot() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (l.startsWith("Uid:")) return l.split("\\s+")[2].equals("0");
            }
        } catch (IOException e) {
            return false;
        }
        return false;
    }

    /** Longest failover allowed in the kill tests: failure noticed to restored service accepting. */
    public static final double MAX_FAILOVER_MS = 2000;

    /**
     * The end of every failover test: every acknowledged write is present (read back through the proxy), those
     * acknowledged before the fault ({@code atFault}, taken at the kill) counted apart and all among them; the proxy
     * follows the new generation; every superseded generation released only epochs that the backup which took over
     * had committed (no output from an unacknowledged epoch); and the old generation is fenced at that backup.
     * {@code failovers} are the backups' statuses, oldest first (more than one after re-protection).
     */
    static void assertAfterFailover(Cluster c, KvWorkload load, KvWorkload.Acked atFault, Json... failovers) throws Exception {
        VerificationResult v = load.verify(c.proxyAddress(), Duration.ofSeconds(30), atFault);
        String ctx = java.util.Arrays.toString(failovers) + logs(c);
        assertThat(v.ok()).as("every acknowledged write present: " + v.summary() + "; " + ctx).isTrue();
        assertThat(v.ackedAtFault()).as("writes acknowledged before the fault; " + ctx).isPositive();
        long newest = (Long) ((Json) failovers[failovers.length - 1].get("failover")).get("generation");
        Json proxy = awaitProxyGeneration(c, newest);
        assertThat(proxy.get("generation")).as("the proxy follows the newest generation; " + ctx).isEqualTo(newest);
        List<?> old = (List<?>) proxy.get("superseded");
        assertThat(old).as("one superseded generation per failover; proxy " + proxy + "; " + ctx).hasSize(failovers.length);
        for (int i = 0; i < failovers.length; i++) {
            Json f = (Json) failovers[i].get("failover");
            Json g = (Json) old.get(i);
            assertThat(g.get("generation")).isEqualTo((Long) f.get("generation") - 1);
            assertThat((Long) g.get("lastReleasedEpoch")).as("generation " + g.get("generation") + " released only committed epochs"
                    + " (restored epoch " + f.get("restoredEpoch") + "); proxy " + proxy + "; " + ctx)
                    .isLessThanOrEqualTo((Long) f.get("restoredEpoch"));
            assertThat(failovers[i].get("fencedGeneration")).as(ctx).isEqualTo((Long) f.get("generation") - 1);
        }
    }

    /** The failover took at most {@link #MAX_FAILOVER_MS} from failure noticed to restored service accepting. */
    public static void assertFailoverTime(Json backup, String ctx) {
        double ms = ((Number) ((Json) backup.get("failover")).get("failoverMs")).doubleValue();
        assertThat(ms).as("failover (noticed -> restored service accepting) in ms; " + ctx).isLessThanOrEqualTo(MAX_FAILOVER_MS);
    }

    private static Json awaitProxyGeneration(Cluster c, long gen) throws Exception {
        return awaitProxyGeneration(() -> c.status("proxy").orElseThrow(), gen);
    }

    /** Where a cluster's proxy status is read from. */
    public interface ProxyStatus {
        Json read() throws IOException;
    }

    /** The proxy's status once it is at generation {@code gen} (it republishes every 200 ms), or after 10 s as it is. */
    public static Json awaitProxyGeneration(ProxyStatus proxy, long gen) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (true) {
            Json p = proxy.read();
            if (p.get("generation") instanceof Long g && g >= gen) return p;
            if (System.nanoTime() - deadline > 0) return p;
            Thread.sleep(50);
        }
    }

    /**
     * The backup never refused an XOR page for its base: the primary's cache of shipped pages kept step with the
     * backup (a refusal is safe, a full resync follows, but it would mean the cache was wrong).
     */
    static void assertNoXorBaseRejections(Cluster c) throws IOException {
        Path p = c.logDir().resolve("backup.log");
        if (!Files.exists(p)) return;
        for (String l : Files.readAllLines(p)) {
            org.assertj.core.api.Assertions.assertThat(l).as("backup.log").doesNotContain("computed on another base")
                    .doesNotContain("has no base in the committed image").doesNotContain("xor pages");
        }
    }

    /** The logs of a cluster, for a failure message. */
    static String logs(Cluster c) {
        StringBuilder sb = new StringBuilder();
        for (String role : new String[] {"protect", "backup", "proxy"}) {
            Path p = c.logDir().resolve(role + ".log");
            try {
                var lines = Files.readAllLines(p);
                sb.append("\n--- ").append(role).append(".log (tail) ---\n");
                for (String l : lines.subList(Math.max(0, lines.size() - 25), lines.size())) sb.append(l).append('\n');
            } catch (IOException e) {
                sb.append("\n--- no ").append(p).append('\n');
            }
        }
        return sb.toString();
    }
}
