package io.checkpointd.linux.criu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CriuDumpFailureTest {
    @TempDir
    Path tmp;

    @Test
    void dumpOfAMissingPidFailsWithTheLogTail() throws Exception {
        Criu criu = CriuTestSupport.assumeCriu();
        int pidMax = Integer.parseInt(Files.readAllLines(Path.of("/proc/sys/kernel/pid_max")).get(0).strip());
        int pid = pidMax - 1;
        while (Files.exists(Path.of("/proc/" + pid))) pid--;
        Path images = Files.createDirectories(tmp.resolve("images"));

        DumpOptions opts = DumpOptions.builder(pid, images).logLevel(4).build();
        CriuException e = catchThrowableOfType(CriuException.class, () -> criu.dump(opts));

        assertThat(e).isNotNull();
        System.out.println(e.getMessage());
        Path log = images.resolve("dump.log");
        assertThat(log).exists();
        String[] lines = Files.readString(log).strip().split("\n");
        assertThat(e.getMessage())
                .contains("dump of pid " + pid)
                .contains("libcriu returned " + e.returnCode())
                .contains("tail of " + log)
                .contains(lines[lines.length - 1].strip());
        assertThat(e.returnCode()).isNegative();
        assertThat(e.logTail().split("\n")).hasSizeLessThanOrEqualTo(Criu.LOG_TAIL_LINES);
    }
}
