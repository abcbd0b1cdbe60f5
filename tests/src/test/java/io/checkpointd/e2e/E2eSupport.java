package io.checkpointd.e2e;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.checkpointd.demo.Cluster;
import io.checkpointd.linux.criu.Criu;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** What every end-to-end test needs: root and a usable CRIU (CI has both; a laptop skips). */
final class E2eSupport {
    private E2eSupport() {
    }

    static void assumeRootAndCriu() {
        assumeTrue(isRoot(), "needs root (CRIU, cgroup freezer)");
        try {
            Criu.locate();
        } catch (IOException e) {
            assumeTrue(false, "needs CRIU >= 4.2: " + e.getMessage());
        }
    }

    static boolean isRoot() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (l.startsWith("Uid:")) return l.split("\\s+")[2].equals("0");
            }
        } catch (IOException e) {
            return false;
        }
        return false;
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
