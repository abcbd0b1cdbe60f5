package io.checkpointd.primary;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Captures a killed primary left in the work root are removed by the next primary; live ones are not. */
class StaleCapturesTest {
    @Test
    void removesCapturesOfGoneServicesAndOlderGenerationsOnly(@TempDir Path root) throws Exception {
        int self = (int) ProcessHandle.current().pid();
        int other = (int) ProcessHandle.current().parent().orElseThrow().pid();
        int gone = 4_194_301;
        assumeTrue(!Files.exists(Path.of("/proc/" + gone)), "pid " + gone + " happens to exist");
        Path goneDir = Files.createDirectories(root.resolve("primary-" + gone + "-gen1/epoch-3"));
        Path olderGen = Files.createDirectories(root.resolve("primary-" + self + "-gen1"));
        Path current = Files.createDirectories(root.resolve("primary-" + self + "-gen2"));
        Path othersLive = Files.createDirectories(root.resolve("primary-" + other + "-gen1"));
        Path unrelated = Files.createDirectories(root.resolve("something-else"));

        StaleCaptures.remove(root, self, 2);

        assertThat(goneDir.getParent()).doesNotExist();
        assertThat(olderGen).doesNotExist();
        assertThat(current).exists();
        assertThat(othersLive).exists();
        assertThat(unrelated).exists();
    }
}
