package io.checkpointd.cli;

import static io.checkpointd.cli.CliInputTest.assertUsageError;
import static io.checkpointd.cli.CliInputTest.cli;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.checkpointd.arbiter.ArbiterAddress;
import io.checkpointd.arbiter.ZkArbiter;
import io.checkpointd.demo.KvServerProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code --arbiter} / {@code --service-id} input: one line and exit 2 for anything malformed or refused. */
class ArbiterCliTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"127.0.0.1:2181/checkpointd", "zk://127.0.0.1:2181", "zk://127.0.0.1:99999/checkpointd", "zk://h:1/a//b"})
    void aMalformedArbiterIsOneLine(String bad) {
        assertUsageError(cli("protect", "1", "--backup", "127.0.0.1:7070", "--insecure-plaintext", "--arbiter", bad, "--service-id", "kv"),
                "--arbiter '" + bad + "'");
        assertUsageError(cli("backup", "--listen", "127.0.0.1:0", "--dir", tmp.resolve("s").toString(), "--insecure-plaintext",
                "--arbiter", bad, "--service-id", "kv"), "--arbiter '" + bad + "'");
        assertUsageError(cli("check", "--arbiter", bad), "--arbiter '" + bad + "'");
    }

    @Test
    void theOptionsGoTogether() {
        String zk = "zk://127.0.0.1:2181/checkpointd";
        assertUsageError(cli("protect", "1", "--backup", "127.0.0.1:7070", "--insecure-plaintext", "--arbiter", zk), "--service-id");
        assertUsageError(cli("protect", "1", "--backup", "127.0.0.1:7070", "--insecure-plaintext", "--service-id", "kv"), "--arbiter");
        assertUsageError(cli("protect", "1", "--backup", "127.0.0.1:7070", "--insecure-plaintext", "--arbiter", zk, "--service-id", "a/b"), "--service-id 'a/b'");
        assertUsageError(cli("protect", "1", "--backup", "127.0.0.1:7070", "--insecure-plaintext", "--arbiter", zk, "--service-id", "kv",
                "--generation", "3"), "--generation comes from the arbiter");
        assertUsageError(cli("protect", "1", "--backup", "127.0.0.1:7070", "--insecure-plaintext", "--arbiter", zk, "--service-id", "kv",
                "--proxy-control", "127.0.0.1:7071"), "--service HOST:PORT");
        assertUsageError(cli("backup", "--listen", "127.0.0.1:0", "--dir", tmp.resolve("s").toString(), "--insecure-plaintext",
                "--arbiter", zk), "--service-id");
    }

    @Test
    void aPrimaryRefusesToStartWhileAnotherHolderHasTheLease() throws Exception {
        assumeTrue(CliInputTest.isRoot(), "protect needs root before it reaches the arbiter");
        try (TestingServer zk = new TestingServer(true);
             KvServerProcess jvm = KvServerProcess.start(System.getProperty("java.class.path"), tmp.resolve("port"), Duration.ofSeconds(30));
             ZkArbiter other = ZkArbiter.start(ArbiterAddress.parse("zk://" + zk.getConnectString() + "/checkpointd"), "kv", Duration.ofSeconds(5))) {
            other.acquire("backup pid 7 on elsewhere", Duration.ofSeconds(10));
            CliInputTest.Run r = cli("protect", Long.toString(jvm.pid()), "--backup", "127.0.0.1:7070", "--insecure-plaintext",
                    "--arbiter", "zk://" + zk.getConnectString() + "/checkpointd", "--service-id", "kv", "--work-dir", tmp.resolve("w").toString(),
                    "--run-dir", tmp.resolve("run").toString());
            assertUsageError(r, "service 'kv' is already active elsewhere", "backup pid 7 on elsewhere");
            assertThat(jvm.process().isAlive()).as("the process was not touched").isTrue();
            assertThat(Files.exists(tmp.resolve("w"))).isFalse();
        }
    }

    @Test
    void checkReportsTheArbiter() throws Exception {
        try (TestingServer zk = new TestingServer(true)) {
            CliInputTest.Run r = cli("check", "--arbiter", "zk://" + zk.getConnectString() + "/checkpointd");
            assertThat(r.out()).containsPattern("arbiter +yes .*reachable");
        }
    }
}
