package io.checkpointd.linux.criu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CriuPidWaitTest {
    @TempDir
    Path tmp;

    @Test
    void imagePidsComeFromCoreImageNames() throws Exception {
        for (String n : List.of("core-100.img", "core-101.img", "core-107.img", "pstree.img", "mm-100.img")) {
            Files.createFile(tmp.resolve(n));
        }
        assertThat(Criu.imagePids(tmp)).containsExactly(100, 101, 107);
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        assertThatThrownBy(() -> Criu.imagePids(empty)).hasMessageContaining("not a CRIU dump");
    }

    @Test
    void waitsUntilThePidIsFreeAndReportsWhatIsStillBusy() throws Exception {
        Process sleeper = new ProcessBuilder("sleep", "30").redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        int pid = (int) sleeper.pid();
        try {
            assertThat(Criu.waitForPidsFree(Set.of(pid), Duration.ofMillis(100))).containsExactly(pid);
            assertThat(Reaper.describe(pid)).startsWith(pid + " (sleep, state ");
            sleeper.destroyForcibly(); // Java's reaper thread reaps it; the wait sees the pid go
            assertThat(Criu.waitForPidsFree(Set.of(pid), Duration.ofSeconds(10))).isEmpty();
        } finally {
            sleeper.destroyForcibly();
            sleeper.waitFor();
        }
    }
}
