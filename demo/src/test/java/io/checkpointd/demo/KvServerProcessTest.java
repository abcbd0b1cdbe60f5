package io.checkpointd.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import java.io.IOException;
import java.net.ConnectException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** KvServer as its own JVM, the way checkpointd runs it. Every child is killed and reaped in finally. */
@Timeout(120)
class KvServerProcessTest {
    private static final String CP = System.getProperty("java.class.path");
    private static final Duration START = Duration.ofSeconds(60); // 2 shared cores: JVM start can be slow

    @TempDir
    Path dir;

    @Test
    void separateJvmServesThenDiesByPid() throws Exception {
        Path portFile = dir.resolve("port");
        // exactly the documented command line, no extra JVM flags
        List<String> cmd = KvServerProcess.command(KvServerProcess.currentJava(), List.of(), CP, "127.0.0.1", 0,
                portFile);
        assertThat(cmd).containsSubsequence("-cp", CP, "io.checkpointd.demo.KvServer", "--port", "0",
                "--port-file", portFile.toString());
        try (KvServerProcess p = KvServerProcess.start(cmd, "127.0.0.1", portFile, START)) {
            assertThat(p.pid()).isNotEqualTo(ProcessHandle.current().pid());
            assertThat(p.port()).isPositive();
            try (KvClient c = KvClient.connect(p.address())) {
                c.ping();
                assertThat(c.put("x", "42")).isTrue();
                assertThat(c.get("x")).contains("42");
                assertThat(c.size()).isEqualTo(1);
            }
            // the port file was renamed into place: no temp file left behind
            try (Stream<Path> files = Files.list(dir)) {
                assertThat(files.map(f -> f.getFileName().toString())).containsExactly("port");
            }

            ProcessHandle h = ProcessHandle.of(p.pid()).orElseThrow();
            assertThat(h.destroyForcibly()).isTrue(); // SIGKILL by PID, like a crashed primary
            assertThat(p.process().waitFor(30, TimeUnit.SECONDS)).isTrue(); // reaped
            assertThat(p.process().exitValue()).isEqualTo(128 + 9);
            assertThat(ProcessHandle.of(p.pid()).map(ProcessHandle::isAlive).orElse(false)).isFalse();
            assertThatThrownBy(() -> KvClient.connect(p.address())).isInstanceOf(ConnectException.class);
        }
    }

    @Test
    void childIsCheckpointFriendly() throws Exception {
        assumeThat(Path.of("/proc/self/fdinfo")).isDirectory();
        Path portFile = dir.resolve("port");
        try (KvServerProcess p = KvServerProcess.start(CP, portFile, START)) {
            try (KvClient c = KvClient.connect(p.address())) {
                assertThat(c.put("a", "1")).isTrue();
            }
            // CRIU refuses to restore a process whose open file changed: no regular file open for writing
            List<String> writable = new ArrayList<>();
            Path fds = Path.of("/proc", Long.toString(p.pid()), "fd");
            try (Stream<Path> list = Files.list(fds)) {
                for (Path fd : (Iterable<Path>) list::iterator) {
                    String target;
                    try {
                        target = Files.readSymbolicLink(fd).toString();
                    } catch (IOException e) {
                        continue; // closed meanwhile
                    }
                    if (!target.startsWith("/") || target.startsWith("/dev/")) {
                        continue; // sockets, pipes, anon inodes, /dev/null
                    }
                    String info = Files.readString(Path.of("/proc", Long.toString(p.pid()), "fdinfo",
                            fd.getFileName().toString()));
                    int flags = Integer.parseInt(info.lines().filter(l -> l.startsWith("flags:")).findFirst()
                            .orElseThrow().substring(6).trim(), 8);
                    if ((flags & 3) != 0) { // O_ACCMODE != O_RDONLY
                        writable.add(target);
                    }
                }
            }
            assertThat(writable).as("files open for writing").isEmpty();
            // -XX:-UsePerfData: no shared hsperfdata mapping to restore on another host
            assertThat(Files.readString(Path.of("/proc", Long.toString(p.pid()), "maps"))).doesNotContain("hsperfdata");
            // looks like a real service: acceptor + 16 workers + JVM threads
            try (Stream<Path> tasks = Files.list(Path.of("/proc", Long.toString(p.pid()), "task"))) {
                assertThat(tasks.count()).isGreaterThanOrEqualTo(20);
            }
        }
    }

    @Test
    void badArgumentsExitWithStatus2() throws Exception {
        List<String> cmd = new ArrayList<>(List.of(KvServerProcess.currentJava(), "-XX:-UsePerfData", "-cp", CP,
                KvServer.class.getName(), "--port", "notaport"));
        Process proc = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
            assertThat(proc.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(proc.exitValue()).isEqualTo(2);
        } finally {
            proc.destroyForcibly();
            proc.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void startFailsCleanlyWhenTheChildCannotBind() throws Exception {
        try (KvServer taken = KvServer.start("127.0.0.1", 0)) {
            Path portFile = dir.resolve("port2");
            List<String> cmd = KvServerProcess.command(KvServerProcess.currentJava(),
                    KvServerProcess.RECOMMENDED_JVM_ARGS, CP, "127.0.0.1", taken.port(), portFile);
            assertThatThrownBy(() -> KvServerProcess.start(cmd, "127.0.0.1", portFile, START))
                    .isInstanceOf(IOException.class).hasMessageContaining("exited with status 1");
        }
    }
}
