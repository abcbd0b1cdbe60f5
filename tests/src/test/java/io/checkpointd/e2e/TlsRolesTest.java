package io.checkpointd.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.checkpointd.linux.proc.ProcessIdentity;
import io.checkpointd.primary.ship.ReplicationClient;
import io.checkpointd.protocol.auth.ChannelKey;
import io.checkpointd.protocol.auth.DeploymentCa;
import io.checkpointd.protocol.auth.Role;
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
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real backup daemon and proxy (in-process) with TLS credentials per role: the replication port takes only a
 * primary and says why it refused anyone else in one log line, the control port takes primary and backup, a
 * stranger CA gets nowhere, and a flood of connections that never authenticate does not keep the primary out.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TlsRolesTest {
    private static final Duration T = Duration.ofSeconds(5);
    private static final InetSocketAddress ANY = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);

    @TempDir
    Path tmp;

    private final List<AutoCloseable> resources = new ArrayList<>();
    private DeploymentCa ca;
    private BackupDaemon backup;
    private BufferProxy proxy;

    @BeforeEach
    void start() throws Exception {
        ca = DeploymentCa.create("roles-test", Duration.ofDays(1));
        backup = add(BackupDaemon.start(new BackupConfig(ANY, tmp.resolve("store"), null, Duration.ofHours(1), null,
                tmp.resolve("run"), null, as(ca, Role.BACKUP, Role.PRIMARY))));
        proxy = add(BufferProxy.start(ProxyConfig.builder().listen(ANY).upstream(new InetSocketAddress("127.0.0.1", 9))
                .control(ANY).channelKey(as(ca, Role.PROXY)).build()));
    }

    @AfterEach
    void stop() throws Exception {
        for (int i = resources.size() - 1; i >= 0; i--) resources.get(i).close();
    }

    @Test
    void theReplicationPortTakesAPrimaryAndRefusesTheProxyWithOneLogLine() throws Exception {
        try (ReplicationClient primary = connect(as(ca, Role.PRIMARY))) {
            assertThat(primary.helloOk()).isNotNull();
        }
        String log = capturingStderr(() -> assertThatThrownBy(() -> connect(as(ca, Role.PROXY)).close())
                .isInstanceOf(IOException.class));
        assertThat(log.lines().filter(l -> l.contains("refused") && l.contains("the replication port")))
                .as(log).singleElement().satisfies(l -> assertThat(l)
                        .contains("CN=proxy").contains("has role proxy; only primary may connect to the replication port"));
        assertThat(Files.exists(tmp.resolve("store").resolve("STATE")) ? Files.readString(tmp.resolve("store").resolve("STATE")) : "")
                .as("nothing committed").doesNotContain("epoch 1");
    }

    @Test
    void aCertificateOfAnotherCaIsRefusedEverywhere() throws Exception {
        DeploymentCa other = DeploymentCa.create("other", Duration.ofDays(1));
        assertThatThrownBy(() -> connect(as(other, Role.PRIMARY)).close()).isInstanceOf(IOException.class);
        assertThatThrownBy(() -> ProxyControlClient.connect(proxy.controlAddress(), as(other, Role.PRIMARY), T).close())
                .isInstanceOf(IOException.class);
    }

    @Test
    void theControlPortTakesPrimaryAndBackupAndRefusesOtherRoles() throws Exception {
        for (Role ok : List.of(Role.PRIMARY, Role.BACKUP)) {
            try (ProxyControlClient c = ProxyControlClient.connect(proxy.controlAddress(), as(ca, ok), T)) {
                c.seal(1, 1, T);
            }
        }
        for (Role wrong : List.of(Role.PROXY, Role.ARBITER)) {
            String log = capturingStderr(() -> assertThatThrownBy(() -> {
                // the TLS 1.3 client is done before the proxy judged it: the refusal comes on the first reply
                try (ProxyControlClient c = ProxyControlClient.connect(proxy.controlAddress(), as(ca, wrong), T)) {
                    c.seal(1, 2, T);
                }
            }).isInstanceOf(IOException.class));
            assertThat(log).contains("has role " + wrong.label() + "; only primary, backup may connect to the control port");
        }
        assertThat(proxy.stats().toString()).doesNotContain("sealed=2");
    }

    @Test
    void aFloodOfIdleConnectionsDoesNotKeepThePrimaryOut() throws Exception {
        InetSocketAddress at = backup.boundAddress();
        List<Socket> idle = new ArrayList<>();
        try {
            // the primary has been here before (a cold JVM's first TLS handshake alone can take a second or two here)
            try (ReplicationClient primary = connect(as(ca, Role.PRIMARY))) {
                assertThat(primary.helloOk()).isNotNull();
            }
            // one address (more than its 8) and then many addresses (more than the listener's 64)
            for (int i = 0; i < 40; i++) idle.add(idleFrom("127.0.0.2", at));
            for (int i = 0; i < 100; i++) idle.add(idleFrom("127.0.2." + (i + 1), at));
            // within the client's 5 s timeout: well before the flood's connections reach their 10 s deadline
            try (ReplicationClient primary = connect(as(ca, Role.PRIMARY))) {
                assertThat(primary.helloOk()).isNotNull();
            }
            assertThat(open(idle)).as("idle connections still open").isLessThanOrEqualTo(64);
        } finally {
            for (Socket s : idle) s.close();
        }
    }

    private ReplicationClient connect(ChannelKey key) throws Exception {
        Hello hello = new Hello(1, 99999, 1, ProcessIdentity.currentBootId(), "");
        return ReplicationClient.connect(backup.boundAddress(), key, hello, Duration.ofMillis(100), T, new IgnoringListener());
    }

    private static ChannelKey as(DeploymentCa issuer, Role... roles) throws Exception {
        EnumSet<Role> r = EnumSet.of(roles[0], roles);
        return ChannelKey.tls(issuer.identity(issuer.issue(roles[0].label(), r)));
    }

    private static Socket idleFrom(String source, InetSocketAddress to) throws IOException {
        Socket s = new Socket();
        s.bind(new InetSocketAddress(InetAddress.getByName(source), 0));
        s.connect(to, 2000);
        return s;
    }

    private static int open(List<Socket> sockets) throws IOException {
        int n = 0;
        for (Socket s : sockets) {
            s.setSoTimeout(10);
            try {
                if (s.getInputStream().read() >= 0) n++;
            } catch (java.net.SocketTimeoutException e) {
                n++;
            } catch (IOException e) {
                // reset: closed by the backup
            }
        }
        return n;
    }

    private interface Action {
        void run() throws Exception;
    }

    /** What the daemons log (slf4j-simple writes to System.err) while {@code a} runs, and a moment after. */
    private static String capturingStderr(Action a) throws Exception {
        PrintStream old = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            a.run();
            Thread.sleep(300);
        } finally {
            System.setErr(old);
        }
        String s = buf.toString(StandardCharsets.UTF_8);
        old.print(s);
        return s;
    }

    private <T extends AutoCloseable> T add(T r) {
        resources.add(r);
        return r;
    }
}
