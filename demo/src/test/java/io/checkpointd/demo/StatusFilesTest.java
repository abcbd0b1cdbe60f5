package io.checkpointd.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.checkpointd.protocol.status.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which status file the demo clusters read, and what their waits on status files make of it. */
class StatusFilesTest {
    @TempDir
    Path dir;

    /** The pid of a process that has exited and been reaped: nothing runs under it (barring reuse). */
    private static long deadPid() throws Exception {
        Process p = new ProcessBuilder("true").start();
        p.waitFor();
        return p.pid();
    }

    private void write(String name, long pid, long updatedAt, String state) throws IOException {
        Files.writeString(dir.resolve(name), "{\"pid\": " + pid + ", \"updatedAt\": " + updatedAt
                + (state == null ? "" : ", \"state\": \"" + state + "\", \"error\": \"boom\"") + "}");
    }

    @Test
    void newestPrefersALiveDaemonOnlyWhenAsked() throws Exception {
        long live = ProcessHandle.current().pid();
        write("backup-1.json", deadPid(), 200, null);
        write("backup-2.json", live, 100, null);
        write("primary-3.json", live, 300, null); // another role
        Files.writeString(dir.resolve("backup-4.json"), "{\"pid\": "); // being replaced: skipped

        assertThat(StatusFiles.newest(dir, "backup", true).map(j -> j.get("updatedAt"))).contains(100L);
        assertThat(StatusFiles.newest(dir, "backup", false).map(j -> j.get("updatedAt"))).contains(200L);
        assertThat(StatusFiles.newest(dir, "proxy", true)).isEmpty();
        assertThat(StatusFiles.newest(dir.resolve("missing"), "backup", true)).isEmpty();
    }

    @Test
    void awaitFailoverReturnsTheRestoredStatusAndReportsAFailedOne() throws Exception {
        write("backup-1.json", 1, 1, "restored");
        Json restored = StatusFiles.awaitFailover(() -> StatusFiles.newest(dir, "backup", false), Duration.ofSeconds(5),
                dir.resolve("backup.log"));
        assertThat(restored.get("state")).isEqualTo("restored");

        write("backup-1.json", 1, 2, "failed");
        assertThatThrownBy(() -> StatusFiles.awaitFailover(() -> StatusFiles.newest(dir, "backup", false),
                Duration.ofSeconds(5), dir.resolve("backup.log")))
                .isInstanceOf(IOException.class).hasMessageContaining("failover failed: boom");
    }

    @Test
    void awaitAckedEpochStopsAtTheProtectDaemonsDeath() throws Exception {
        Files.writeString(dir.resolve("primary-1.json"), "{\"pid\": 1, \"lastAckedEpoch\": 3}");
        StatusFiles.awaitAckedEpoch(() -> StatusFiles.newest(dir, "primary", false), 3, Duration.ofSeconds(5),
                () -> null, dir);
        assertThatThrownBy(() -> StatusFiles.awaitAckedEpoch(() -> StatusFiles.newest(dir, "primary", false), 4,
                Duration.ofSeconds(10), () -> "protect is gone", dir))
                .isInstanceOf(IOException.class).hasMessage("protect is gone");
        assertThatThrownBy(() -> StatusFiles.awaitAckedEpoch(Optional::<Json>empty, 1, Duration.ofMillis(50), () -> null, dir))
                .isInstanceOf(IOException.class).hasMessageStartingWith("no acknowledged epoch 1 within");
    }
}
