package io.checkpointd.protocol.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.checkpointd.protocol.Frame;
import io.checkpointd.protocol.FrameType;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.Future;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * TLS channels between in-process Netty ends, each with the credentials of one role: who may connect to which
 * port, an untrusted CA, a server of the wrong role, and the bounds on connections that do not authenticate.
 * A refused peer must never get a frame read.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TlsChannelTest {
    private static final Duration T = Duration.ofSeconds(5);
    private static DeploymentCa ca;
    private static DeploymentCa stranger;
    private static EventLoopGroup group;
    private final List<Channel> opened = new ArrayList<>();

    @BeforeAll
    static void certificates() throws Exception {
        ca = DeploymentCa.create("test", Duration.ofDays(1));
        stranger = DeploymentCa.create("stranger", Duration.ofDays(1));
        group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    }

    @AfterAll
    static void stop() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }

    @AfterEach
    void closeChannels() {
        for (Channel c : opened) c.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
    }

    private static ChannelKey as(DeploymentCa issuer, Role... roles) throws Exception {
        Set<Role> r = EnumSet.of(roles[0], roles);
        return ChannelKey.tls(issuer.identity(issuer.issue(Role.labels(r).replace(", ", "-"), r)));
    }

    @Test
    void aPrimaryIsServedOnTheReplicationPort() throws Exception {
        Server backup = server(as(ca, Role.BACKUP), Link.REPLICATION);
        Client primary = client(as(ca, Role.PRIMARY), Link.REPLICATION, backup.address());
        assertThat(primary.ready().await(T.toMillis())).isTrue();
        assertThat(primary.ready().isSuccess()).as("%s", primary.ready().cause()).isTrue();
        primary.channel.writeAndFlush(Frame.of(FrameType.HEARTBEAT, 1, 7));
        assertThat(primary.received.poll(5, TimeUnit.SECONDS)).isEqualTo(Frame.of(FrameType.HEARTBEAT, 1, 7));
        assertThat(backup.framesRead.get()).isEqualTo(1);
    }

    @Test
    void theProxysCertificateIsRefusedOnTheReplicationPortBeforeAnyFrameIsRead() throws Exception {
        Server backup = server(as(ca, Role.BACKUP), Link.REPLICATION);
        Client proxy = client(as(ca, Role.PROXY), Link.REPLICATION, backup.address());
        // TLS 1.3: the client finishes its half before the server judged its certificate, so it may write a frame
        proxy.ready().await(T.toMillis());
        if (proxy.ready().isSuccess()) proxy.channel.writeAndFlush(Frame.of(FrameType.HELLO, 1, 0));
        String why = backup.awaitRefusal();
        assertThat(why).contains("role proxy").contains("only primary may connect to the replication port");
        assertThat(proxy.channel.closeFuture().await(T.toMillis())).as("the proxy is disconnected").isTrue();
        assertThat(proxy.received).isEmpty();
        assertThat(backup.framesRead.get()).as("frames the backup read from the proxy").isZero();
    }

    @Test
    void aCertificateFromAnotherCaIsRefused() throws Exception {
        Server backup = server(as(ca, Role.BACKUP), Link.REPLICATION);
        Client impostor = client(as(stranger, Role.PRIMARY), Link.REPLICATION, backup.address());
        // the impostor does not trust our backup either: both ends refuse
        assertThat(impostor.ready().await(T.toMillis())).isTrue();
        assertThat(impostor.ready().isSuccess()).isFalse();
        assertThat(impostor.ready().cause().getMessage()).contains("is not trusted");
        assertThat(backup.framesRead.get()).isZero();
        backup.awaitRefusal(); // the backup's side of it: the impostor ended the handshake

        // one that trusts our CA is refused by the backup: its own certificate is not signed by our CA (so the JDK
        // does not even offer it: our CertificateRequest names our CA as the only issuer)
        DeploymentCa.Issued theirs = stranger.issue("primary", EnumSet.of(Role.PRIMARY));
        ChannelKey trusting = ChannelKey.tls(TlsIdentity.of(List.of(theirs.certificate()), theirs.key(),
                List.of(stranger.certificate(), ca.certificate()), "impostor"));
        Client second = client(trusting, Link.REPLICATION, backup.address());
        second.ready().await(T.toMillis());
        if (second.ready().isSuccess()) second.channel.writeAndFlush(Frame.of(FrameType.HELLO, 1, 0));
        assertThat(backup.awaitRefusal()).contains("no certificate signed by our --tls-ca");
        assertThat(second.channel.closeFuture().await(T.toMillis())).isTrue();
        assertThat(backup.framesRead.get()).isZero();
    }

    @Test
    void theControlPortServesPrimaryAndBackupOnly() throws Exception {
        Server proxy = server(as(ca, Role.PROXY), Link.CONTROL);
        for (Role ok : List.of(Role.PRIMARY, Role.BACKUP)) {
            Client c = client(as(ca, ok), Link.CONTROL, proxy.address());
            c.ready().await(T.toMillis());
            c.channel.writeAndFlush(Frame.of(FrameType.SEAL, 1, 1));
            assertThat(c.received.poll(5, TimeUnit.SECONDS)).as(ok + " is served").isEqualTo(Frame.of(FrameType.SEAL, 1, 1));
        }
        assertThat(proxy.refusals).isEmpty();
        for (Role wrong : List.of(Role.PROXY, Role.ARBITER)) {
            int before = proxy.framesRead.get();
            Client c = client(as(ca, wrong), Link.CONTROL, proxy.address());
            c.ready().await(T.toMillis());
            if (c.ready().isSuccess()) c.channel.writeAndFlush(Frame.of(FrameType.RELEASE, 1, 1));
            assertThat(proxy.awaitRefusal()).contains("role " + wrong.label()).contains("only primary, backup may connect to the control port");
            assertThat(c.channel.closeFuture().await(T.toMillis())).isTrue();
            assertThat(proxy.framesRead.get()).isEqualTo(before);
        }
    }

    @Test
    void aPrimaryRefusesAReplicationPortThatIsNotABackup() throws Exception {
        Server fake = server(as(ca, Role.PROXY), Link.REPLICATION);
        Client primary = client(as(ca, Role.PRIMARY), Link.REPLICATION, fake.address());
        assertThat(primary.ready().await(T.toMillis())).isTrue();
        assertThat(primary.ready().cause()).hasMessageContaining("role proxy; expected backup");
    }

    @Test
    void expiredAndUnsignedCertificatesAndForeignKeysAreRefusedAtLoad() throws Exception {
        Instant now = Instant.now();
        DeploymentCa.Issued expired = ca.issue("old", EnumSet.of(Role.PRIMARY), List.of(), now.minus(Duration.ofDays(10)),
                now.minus(Duration.ofDays(1)));
        assertThatThrownBy(() -> ca.identity(expired)).hasMessageContaining("expired");
        DeploymentCa.Issued a = ca.issue("a", EnumSet.of(Role.PRIMARY));
        DeploymentCa.Issued b = ca.issue("b", EnumSet.of(Role.PRIMARY));
        assertThatThrownBy(() -> TlsIdentity.of(List.of(a.certificate()), b.key(), List.of(ca.certificate()), "a.crt"))
                .hasMessageContaining("is not the private key of certificate a.crt");
        assertThatThrownBy(() -> TlsIdentity.of(List.of(a.certificate()), a.key(), List.of(stranger.certificate()), "a.crt"))
                .hasMessageContaining("is not signed by the --tls-ca");
        DeploymentCa.Issued none = ca.issue("none", EnumSet.noneOf(Role.class), List.of("host"), now.minusSeconds(5), now.plusSeconds(600));
        assertThatThrownBy(() -> ca.identity(none)).hasMessageContaining("names no role");
    }

    @Test
    void connectionsThatNeverAuthenticateCannotLockOutARealPeer() throws Exception {
        PreAuthGate gate = new PreAuthGate("the replication port", 16, 4, Duration.ofSeconds(2));
        Server backup = server(as(ca, Role.BACKUP), Link.REPLICATION, gate);
        List<Socket> idle = new ArrayList<>();
        try {
            // one address opening many: only 4 stay
            for (int i = 0; i < 50; i++) idle.add(idleFrom("127.0.0.2", backup.address()));
            awaitPending(gate, 4);
            assertThat(gate.pending()).isEqualTo(4);
            // many addresses: the listener's bound holds, by dropping the oldest
            for (int i = 0; i < 40; i++) idle.add(idleFrom("127.0.1." + (i + 1), backup.address()));
            awaitPending(gate, 16);
            assertThat(gate.pending()).isLessThanOrEqualTo(16);
            assertThat(openCount(idle)).isLessThanOrEqualTo(16);

            Client primary = client(as(ca, Role.PRIMARY), Link.REPLICATION, backup.address());
            primary.ready().await(T.toMillis());
            primary.channel.writeAndFlush(Frame.of(FrameType.HEARTBEAT, 1, 1));
            assertThat(primary.received.poll(5, TimeUnit.SECONDS)).as("the real peer is served").isNotNull();

            // and the deadline closes the rest
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (gate.pending() > 0 && System.nanoTime() < until) Thread.sleep(50);
            assertThat(gate.pending()).isZero();
            assertThat(openCount(idle)).isZero();
            assertThat(gate.refused()).isGreaterThanOrEqualTo(90);
        } finally {
            for (Socket s : idle) s.close();
        }
    }

    // ---- fixtures -------------------------------------------------------------------------------------------

    private static Socket idleFrom(String source, InetSocketAddress to) throws IOException {
        Socket s = new Socket();
        s.bind(new InetSocketAddress(InetAddress.getByName(source), 0));
        s.connect(to, 2000);
        return s;
    }

    private static void awaitPending(PreAuthGate gate, int n) throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (gate.pending() < n && System.nanoTime() < until) Thread.sleep(10);
        Thread.sleep(100); // let any excess be closed
    }

    /** Sockets the server has not closed: a read that times out instead of seeing EOF or a reset. */
    private static int openCount(List<Socket> sockets) throws IOException {
        int open = 0;
        for (Socket s : sockets) {
            if (s.isClosed()) continue;
            s.setSoTimeout(20);
            try {
                if (s.getInputStream().read() >= 0) open++; // a TLS server sends nothing before the client: not reached
            } catch (SocketTimeoutException e) {
                open++;
            } catch (IOException e) {
                // reset: closed
            }
        }
        return open;
    }

    private Server server(ChannelKey key, Link link) throws InterruptedException {
        return server(key, link, PreAuthGate.standard(link.port()));
    }

    private Server server(ChannelKey key, Link link, PreAuthGate gate) throws InterruptedException {
        Server s = new Server();
        Channel ch = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel c) {
                        AuthHandshake.install(c.pipeline(), key, link, FrameAuth.Side.SERVER);
                        gate.admit(c);
                        AuthHandshake.ready(c).addListener(f -> {
                            if (!f.isSuccess()) s.refusals.add(f.cause().getMessage());
                        });
                        c.pipeline().addLast(new SimpleChannelInboundHandler<Frame>() {
                            @Override
                            protected void channelRead0(ChannelHandlerContext ctx, Frame f) {
                                s.framesRead.incrementAndGet();
                                ctx.writeAndFlush(f);
                            }
                        });
                    }
                }).bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
        opened.add(ch);
        s.channel = ch;
        return s;
    }

    private Client client(ChannelKey key, Link link, InetSocketAddress to) throws InterruptedException {
        Client c = new Client();
        Channel ch = new Bootstrap().group(group).channel(NioSocketChannel.class)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel sc) {
                        AuthHandshake.install(sc.pipeline(), key, link, FrameAuth.Side.CLIENT);
                        sc.pipeline().addLast(new SimpleChannelInboundHandler<Frame>() {
                            @Override
                            protected void channelRead0(ChannelHandlerContext ctx, Frame f) {
                                c.received.add(f);
                            }
                        });
                    }
                }).connect(to).sync().channel();
        opened.add(ch);
        c.channel = ch;
        return c;
    }

    private static final class Server {
        final AtomicInteger framesRead = new AtomicInteger();
        final List<String> refusals = new CopyOnWriteArrayList<>();
        Channel channel;

        InetSocketAddress address() {
            return (InetSocketAddress) channel.localAddress();
        }

        String awaitRefusal() throws InterruptedException {
            long until = System.nanoTime() + T.toNanos();
            while (refusals.isEmpty() && System.nanoTime() < until) Thread.sleep(10);
            assertThat(refusals).as("the server refused the peer").isNotEmpty();
            return refusals.remove(0);
        }
    }

    private static final class Client {
        final BlockingQueue<Frame> received = new LinkedBlockingQueue<>();
        Channel channel;

        Future<FrameAuth> ready() {
            return AuthHandshake.ready(channel);
        }
    }
}
