package io.checkpointd.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.checkpointd.demo.Cluster;
import io.checkpointd.demo.KvWorkload;
import io.checkpointd.linux.proc.ProcessIdentity;
import io.checkpointd.primary.ship.ReplicationClient;
import io.checkpointd.protocol.Frame;
import io.checkpointd.protocol.FrameCodec;
import io.checkpointd.protocol.FrameType;
import io.checkpointd.protocol.auth.AuthHandshake;
import io.checkpointd.protocol.auth.ChannelKey;
import io.checkpointd.protocol.auth.FrameAuth;
import io.checkpointd.protocol.control.ControlRejectedException;
import io.checkpointd.protocol.control.ProxyControlClient;
import io.checkpointd.protocol.replication.EpochBegin;
import io.checkpointd.protocol.replication.Hello;
import io.checkpointd.protocol.status.Json;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** After a failover, the old primary's generation reaches neither the backup's store nor any client. */
class StaleGenerationTest extends E2eTest {
    @Test
    @Timeout(120)
    void theOldGenerationIsFencedEverywhere() throws Exception {
        try (Cluster c = Cluster.start(Cluster.Options.of(tmp).withEpoch(Duration.ofMillis(100)));
             KvWorkload load = new KvWorkload(KvWorkload.Config.of(c.proxyAddress()).withThreads(2))) {
            load.start();
            load.awaitAcked(20, Duration.ofSeconds(30)); // writes flow before any fault
            Thread.sleep(1000);
            assertStatusReportsEveryRole(c);
            assertThat(java.nio.file.Files.readString(c.logDir().resolve("protect.log")))
                    .as("the first epoch's full sync shows its progress").containsPattern("full sync of pid \\d+ shipped: [0-9.]+ MB raw");
            KvWorkload.Acked atKill = load.snapshot();
            c.killPrimary();
            Json failed = c.awaitFailover(Duration.ofSeconds(60));
            assertThat(((Json) failed.get("failover")).get("generation")).isEqualTo(2L);
            Thread.sleep(500);
            load.stop();
            load.awaitTermination(Duration.ofSeconds(30));
            Json before = c.status("backup").orElseThrow();
            InetSocketAddress backup = new InetSocketAddress("127.0.0.1", c.backupPort());
            ChannelKey key = c.channelKey();

            // the old primary reconnecting is told it is fenced
            Hello old = new Hello(1, 99999, 1, ProcessIdentity.currentBootId(), "");
            assertThatThrownBy(() -> ReplicationClient.connect(backup, key, old, Duration.ofMillis(100), Duration.ofSeconds(5), new IgnoringListener()))
                    .isInstanceOf(ReplicationClient.FencedException.class);

            // raw frames of generation 1 (handshake, then an epoch), authenticated with the cluster's key, change
            // nothing and are answered FENCED / cut off
            try (Socket s = new Socket(backup.getAddress(), backup.getPort())) {
                s.setSoTimeout(5000);
                InputStream in = s.getInputStream();
                FrameAuth auth = AuthHandshake.blocking(in, s.getOutputStream(), key, FrameAuth.Side.CLIENT);
                ByteBuf buf = Unpooled.buffer();
                FrameCodec.encode(new Frame(FrameType.HELLO, 1, 0, old.encode()), buf, auth);
                FrameCodec.encode(new Frame(FrameType.EPOCH_BEGIN, 1, 10_000, new EpochBegin(EpochBegin.FULL, 0, 0).encode()), buf, auth);
                byte[] bytes = new byte[buf.readableBytes()];
                buf.readBytes(bytes);
                s.getOutputStream().write(bytes);
                Frame f = ProxyControlClient.readFrame(in, auth);
                assertThat(f.type()).isEqualTo(FrameType.FENCED);
                assertThat(in.read()).as("connection closed after FENCED").isEqualTo(-1);
            }
            Json after = c.status("backup").orElseThrow();
            assertThat(after.get("committedEpoch")).isEqualTo(before.get("committedEpoch"));
            assertThat(after.get("committedGeneration")).isEqualTo(before.get("committedGeneration"));

            // the proxy refuses the old generation's seal and release
            try (ProxyControlClient proxy = ProxyControlClient.connect(new InetSocketAddress("127.0.0.1", c.controlPort()), key, Duration.ofSeconds(2))) {
                assertThatThrownBy(() -> proxy.seal(1, 10_000, Duration.ofSeconds(2))).isInstanceOf(ControlRejectedException.class);
                proxy.release(1, 10_000);
                assertThatThrownBy(() -> proxy.sync(Duration.ofSeconds(2))).isInstanceOf(ControlRejectedException.class);
            }
            Thread.sleep(400);
            Json proxyStatus = c.status("proxy").orElseThrow();
            assertThat(proxyStatus.get("generation")).isEqualTo(2L);
            assertThat(((Number) proxyStatus.get("rejectedControlMessages")).longValue()).isGreaterThanOrEqualTo(2);
            E2eSupport.assertAfterFailover(c, load, atKill, failed);
        }
    }

    /** {@code checkpointd status --json} of a running cluster: one object with every daemon and its figures. */
    private static void assertStatusReportsEveryRole(Cluster c) {
        java.io.StringWriter out = new java.io.StringWriter();
        var cl = io.checkpointd.cli.Main.commandLine();
        cl.setOut(new java.io.PrintWriter(out, true));
        assertThat(cl.execute("status", "--run-dir", c.runDir().toString(), "--json")).isZero();
        Json all = (Json) Json.parse(out.toString());
        java.util.Map<String, Json> byRole = new java.util.HashMap<>();
        for (Object o : (java.util.List<?>) all.get("daemons")) byRole.put((String) ((Json) o).get("role"), (Json) o);
        assertThat(byRole).containsKeys("primary", "backup", "proxy");
        Json p = byRole.get("primary");
        assertThat(p.get("alive")).isEqualTo(true);
        assertThat(p.get("state")).isEqualTo("protecting");
        assertThat(((Number) p.get("lastAckedEpoch")).longValue()).isPositive();
        for (String w : new String[] {"pauseMs", "ackMs", "capturedBytes", "shippedRawBytes", "shippedWireBytes"}) {
            assertThat(((Json) p.get(w)).fields()).as(w).containsKeys("last", "p50", "p99", "max", "n");
        }
        assertThat(((Number) ((Json) p.get("pauseMs")).get("p50")).doubleValue()).isPositive();
        Json b = byRole.get("backup");
        assertThat(b.get("state")).isEqualTo("replicating");
        assertThat(((Number) b.get("committedEpoch")).longValue()).isPositive();
        assertThat(((Json) b.get("commitMs")).fields()).containsKeys("p50", "p99");
        Json x = byRole.get("proxy");
        assertThat(((Number) x.get("lastReleasedEpoch")).longValue()).isPositive();
    }
}
