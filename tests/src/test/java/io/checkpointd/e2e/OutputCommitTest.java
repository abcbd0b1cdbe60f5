package io.checkpointd.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.demo.Cluster;
import io.checkpointd.demo.KvClient;
import io.checkpointd.restore.BackupFaults;
import io.checkpointd.restore.receive.AckMode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Timeout;

/**
 * Output commit: while the backup holds its acks (the named fault point {@link BackupFaults}), the service keeps
 * running and producing output, but clients behind the proxy receive nothing new; once the acks flow, the held
 * output arrives complete and in order.
 */
class OutputCommitTest extends E2eTest {
    @ParameterizedTest(name = "ack {0}")
    @EnumSource(AckMode.class)
    @Timeout(120)
    void heldAcksHoldAllOutputUntilReleasedThenItArrivesInOrder(AckMode ack) throws Exception {
        Path hold = tmp.resolve("hold-acks");
        Cluster.Options opts = Cluster.Options.of(tmp.resolve("cluster")).withEpoch(Duration.ofMillis(50))
                .withDaemonArgs("backup", List.of("--ack", ack.toString()))
                .withBackupJvmArgs(List.of("-D" + BackupFaults.HOLD_ACKS_FILE_PROPERTY + "=" + hold));
        try (Cluster c = Cluster.start(opts);
             Socket s = new Socket(c.proxyAddress().getAddress(), c.proxyAddress().getPort())) {
            s.setSoTimeout(200);
            OutputStream out = s.getOutputStream();
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            // a round trip while acks flow: the proxy works
            out.write("PING\n".getBytes(StandardCharsets.UTF_8));
            s.setSoTimeout(10_000);
            assertThat(in.readLine()).isEqualTo("PONG");

            Files.createFile(hold);
            Thread.sleep(300); // acks of epochs already in flight may still go out; then nothing
            int n = 200;
            StringBuilder batch = new StringBuilder();
            for (int i = 0; i < n; i++) batch.append("PUT k").append(i).append(' ').append(i).append('\n').append("GET k").append(i).append('\n');
            out.write(batch.toString().getBytes(StandardCharsets.UTF_8));
            out.flush();

            // the service runs and answers a direct client; the primary has its epochs in flight, unacknowledged ...
            Thread.sleep(1500);
            try (KvClient direct = KvClient.connect(c.serviceAddress())) {
                assertThat(direct.get("k" + (n - 1))).as("the service applied the writes").contains(Integer.toString(n - 1));
            }
            Map<String, Object> primary = c.status("primary").orElseThrow().fields();
            assertThat(primary.get("inFlight")).as("the primary waits for acks").isEqualTo(primary.get("maxInFlight"));
            // ... but nothing reaches the client behind the proxy
            s.setSoTimeout(500);
            assertThat(readAvailable(s, in)).as("output released while acks were held").isEmpty();
            assertThat(((Number) c.status("proxy").orElseThrow().get("heldBytes")).longValue()).isPositive();

            Files.delete(hold);
            s.setSoTimeout(10_000);
            List<String> got = new ArrayList<>();
            for (int i = 0; i < 2 * n; i++) got.add(in.readLine());
            for (int i = 0; i < n; i++) {
                assertThat(got.get(2 * i)).as("reply %d", 2 * i).isEqualTo("OK");
                assertThat(got.get(2 * i + 1)).as("reply %d", 2 * i + 1).isEqualTo("VALUE " + i);
            }
        }
    }

    private static String readAvailable(Socket s, BufferedReader in) throws Exception {
        try {
            String l = in.readLine();
            return l == null ? "" : l;
        } catch (java.net.SocketTimeoutException e) {
            return "";
        }
    }
}
