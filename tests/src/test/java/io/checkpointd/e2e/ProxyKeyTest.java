package io.checkpointd.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.checkpointd.linux.proc.ProcessIdentity;
import io.checkpointd.primary.ship.ReplicationClient;
import io.checkpointd.protocol.auth.ChannelKey;
import io.checkpointd.protocol.control.ProxyControlClient;
import io.checkpointd.protocol.replication.Hello;
import io.checkpointd.proxy.BufferProxy;
import io.checkpointd.proxy.ProxyConfig;
import io.checkpointd.restore.BackupConfig;
import io.checkpointd.restore.BackupDaemon;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Roles with a shared key: the proxy runs with the key {@code checkpointd proxy-key} derives, primary and backup
 * with the deployment's. The proxy's key drives the control port with them, and is refused on the replication port
 * with one log line before any frame of its is read.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ProxyKeyTest {
    private static final Duration T = Duration.ofSeconds(5);
    private static final InetSocketAddress ANY = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);

    @TempDir
    Path tmp;

    private final ChannelKey deployment = ChannelKey.random();
    private ChannelKey proxyKey;
    private BackupDaemon backup;
    private BufferProxy proxy;

    @BeforeEach
    void start() throws Exception {
        Path f = tmp.resolve("proxy.key");
        deployment.writeProxyKey(f);
        proxyKey = ChannelKey.load(f);
        backup = BackupDaemon.start(new BackupConfig(ANY, tmp.resolve("store"), null, Duration.ofHours(1), null, tmp.resolve("run"),
                null, deployment));
        proxy = BufferProxy.start(ProxyConfig.builder().listen(ANY).upstream(new InetSocketAddress("127.0.0.1", 9)).control(ANY)
                .channelKey(proxyKey).build());
    }

    @AfterEach
    void stop() {
        if (proxy != null) proxy.close();
        if (backup != null) backup.close();
    }

    @Test
    void primaryAndBackupDriveTheProxyHoldingOnlyItsKey() throws Exception {
        try (ProxyControlClient c = ProxyControlClient.connect(proxy.controlAddress(), deployment, T)) {
            c.seal(1, 1, T);
            c.release(1, 1);
            c.sync(T);
        }
        try (ReplicationClient primary = connect(deployment)) {
            assertThat(primary.helloOk()).isNotNull();
        }
    }

    @Test
    void theProxysKeyIsRefusedOnTheReplicationPortWithOneLogLine() throws Exception {
        PrintStream old = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            assertThatThrownBy(() -> connect(proxyKey).close()).isInstanceOf(IOException.class);
            Thread.sleep(300);
        } finally {
            System.setErr(old);
        }
        String log = buf.toString(StandardCharsets.UTF_8);
        old.print(log);
        assertThat(log.lines().filter(l -> l.contains("dropping replication connection"))).as(log).singleElement()
                .satisfies(l -> assertThat(l).contains("the peer holds the proxy's key, which opens only the control port: "
                        + "only a primary may connect to the replication port"));
        assertThat(backup.store().committedEpoch()).as("nothing reached the store").isLessThanOrEqualTo(0);
    }

    private ReplicationClient connect(ChannelKey key) throws Exception {
        Hello hello = new Hello(1, 99999, 1, ProcessIdentity.currentBootId(), "");
        return ReplicationClient.connect(backup.boundAddress(), key, hello, Duration.ofMillis(100), T, new IgnoringListener());
    }
}
