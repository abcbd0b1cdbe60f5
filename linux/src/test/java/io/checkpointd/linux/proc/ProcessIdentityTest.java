package io.checkpointd.linux.proc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class ProcessIdentityTest {
    @Test
    void theSameProcessIsAliveUntilItEndsEvenWhileItIsAnUnreapedZombie() throws Exception {
        assumeTrue(Files.isDirectory(Path.of("/proc/self/task")), "no procfs");
        // a shell starts a short sleep in the background, then becomes a long sleep that never reaps it
        Process parent = new ProcessBuilder("/bin/sh", "-c", "sleep 0.5 & echo $!; exec sleep 20").start();
        try {
            int pid;
            try (BufferedReader r = new BufferedReader(new InputStreamReader(parent.getInputStream(), StandardCharsets.UTF_8))) {
                pid = Integer.parseInt(r.readLine().trim());
                ProcessIdentity id = ProcessIdentity.of(pid);
                assertThat(id).isNotNull();
                assertThat(id.isAlive()).as("running").isTrue();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (id.isAlive() && System.nanoTime() < deadline) Thread.sleep(20);
                assertThat(id.isAlive()).as("ended").isFalse();
                assertThat(Path.of("/proc/" + pid)).as("still there, a zombie nobody reaps").exists();
                assertThat(ProcessIdentity.startTicksOf(pid)).isEqualTo(id.startTicks());
            }
            assertThat(new ProcessIdentity(ProcessIdentity.currentBootId(), (int) ProcessHandle.current().pid(),
                    ProcessIdentity.startTicksOf((int) ProcessHandle.current().pid())).isAlive()).as("this JVM").isTrue();
        } finally {
            parent.destroyForcibly();
            parent.waitFor();
        }
    }
}
