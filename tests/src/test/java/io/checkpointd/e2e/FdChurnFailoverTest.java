package io.checkpointd.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.demo.Cluster;
import io.checkpointd.demo.KvClient;
import io.checkpointd.linux.net.SockDiag;
import io.checkpointd.linux.proc.ProcFiles;
import io.checkpointd.protocol.image.ImageFile;
import io.checkpointd.protocol.image.criu.Fdinfo.fd_types;
import io.checkpointd.protocol.image.criu.Fdinfo.file_entry;
import io.checkpointd.protocol.image.criu.SkInet.inet_sk_entry;
import io.checkpointd.protocol.status.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.stream.Stream;
import java.io.IOException;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The NIO demo service under connection churn: every request comes on a new connection through the proxy (a new
 * upstream connection the service accepts and registers with its selectors' epoll sets), and a few connections
 * straight to the service stay open. After the first epoch no epoch takes a CRIU dump: the engine captures the new
 * and closed sockets and the epoll registrations itself. Then the primary is killed: the restored service serves
 * every write acknowledged before, accepts new connections, and the connections open at the kill come back closed
 * and are dropped by the service.
 */
class FdChurnFailoverTest extends E2eTest {
    private static final Duration EPOCH = Duration.ofMillis(25);
    private static final Duration CHURN = Duration.ofSeconds(5);
    private static final int HELD = 6, CLIENTS = 4;
    private static final int FILES_MAGIC = 0x56303138;

    @Test
    @Timeout(180)
    void newConnectionsEveryEpochTakeNoCriuDumpAndComeBackClosed() throws Exception {
        try (Cluster c = Cluster.start(Cluster.Options.of(tmp).withEpoch(EPOCH))) {
            try (KvClient warm = KvClient.connect(c.proxyAddress())) {
                assertThat(warm.put("before-churn", "1")).isTrue();
            }
            Json before = engineStats(c);
            List<String> acked = java.util.Collections.synchronizedList(new ArrayList<>());
            List<Socket> held = new ArrayList<>();
            try {
                for (int i = 0; i < HELD; i++) held.add(new Socket(c.serviceAddress().getAddress(), c.serviceAddress().getPort()));
                churn(c, acked);
                Json after = engineStats(c);
                String ctx = "engine before " + before + ", after " + after + E2eSupport.logs(c);
                long dumps = (Long) after.get("criuDumps") - (Long) before.get("criuDumps");
                long epochs = (Long) after.get("incrementalEpochs") - (Long) before.get("incrementalEpochs");
                System.out.printf("fd churn: %d connections in %s, %d incremental epochs, %d CRIU dumps (reasons %s)%n",
                        acked.size(), CHURN, epochs, dumps, after.get("criuDumpReasons"));
                assertThat(acked.size()).as("connections served; " + ctx).isGreaterThan(40);
                assertThat(epochs).as("incremental epochs under churn; " + ctx).isGreaterThan(20);
                assertThat(dumps).as("CRIU dumps under connection churn after the first epoch; " + ctx).isZero();

                c.killPrimary();
                Json backup = c.awaitFailover(Duration.ofSeconds(30));
                int restored = c.restoredPid().orElseThrow();
                int closedAtRestore = closedSockets(restored);
                assertHeldConnectionsInTheImage(held, backup);
                try (KvClient k = KvClient.connect(c.proxyAddress())) {
                    for (String key : acked) assertThat(k.get(key)).as(key + " after the failover; " + backup).isPresent();
                    assertThat(k.get("before-churn")).contains("1");
                }
                for (int i = 0; i < 20; i++) {
                    try (KvClient k = KvClient.connect(c.proxyAddress())) {
                        assertThat(k.put("after-" + i, "yes")).as("a new connection to the restored service").isTrue();
                    }
                }
                long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                int closed;
                while ((closed = closedSockets(restored)) > 0 && System.nanoTime() - deadline < 0) Thread.sleep(50);
                System.out.printf("fd churn failover: %d acknowledged writes present; %d closed sockets in the restored service at"
                        + " first look, %d after it dropped them%n", acked.size(), closedAtRestore, closed);
                assertThat(closed).as("connections open at the kill come back closed and are dropped; " + backup).isZero();
            } finally {
                for (Socket s : held) s.close();
            }
        }
    }

    /** {@link #CLIENTS} clients, each opening a new connection through the proxy for every write, for {@link #CHURN}. */
    private static void churn(Cluster c, List<String> acked) throws Exception {
        long end = System.nanoTime() + CHURN.toNanos();
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(CLIENTS);
        try {
            List<java.util.concurrent.Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < CLIENTS; t++) {
                int id = t;
                fs.add(pool.submit(() -> {
                    for (int i = 0; System.nanoTime() - end < 0; i++) {
                        try (KvClient k = KvClient.connect(c.proxyAddress())) {
                            String key = "churn-" + id + "-" + i;
                            if (k.put(key, "v" + i)) acked.add(key);
                        }
                    }
                    return null;
                }));
            }
            for (java.util.concurrent.Future<?> f : fs) f.get(CHURN.toSeconds() + 30, java.util.concurrent.TimeUnit.SECONDS);
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * Sockets the process holds that no TCP table lists any more: connections restored closed (CRIU's
     * {@code --tcp-close} shuts them down) and not yet dropped by the service.
     */
    private static int closedSockets(int pid) throws IOException {
        Map<Long, SockDiag.InetSock> tcp = SockDiag.tcp();
        int n = 0;
        for (String target : ProcFiles.fds(pid).values()) {
            if (!target.startsWith("socket:[")) continue;
            long ino = Long.parseLong(target.substring(8, target.length() - 1));
            SockDiag.InetSock sk = tcp.get(ino);
            if (sk != null && Set.of(SockDiag.TCP_LISTEN, SockDiag.TCP_ESTABLISHED).contains(sk.state())) continue;
            if (sk == null && isUnix(ino)) continue;
            n++;
        }
        return n;
    }

    private static boolean isUnix(long ino) throws IOException {
        for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/net/unix"))) {
            String[] w = line.trim().split("\\s+");
            if (w.length > 6 && w[6].equals(Long.toString(ino))) return true;
        }
        return false;
    }

    /**
     * The image CRIU restored has every connection held open at the kill (all opened after the base dump) as an
     * established socket of the service: the engine put it there; CRIU restores it shut down.
     */
    private void assertHeldConnectionsInTheImage(List<Socket> held, Json backup) throws Exception {
        Path images;
        try (Stream<Path> s = Files.walk(tmp)) {
            images = s.filter(p -> p.getFileName().toString().startsWith("restore-gen") && Files.isDirectory(p)).findFirst()
                    .orElseThrow(() -> new AssertionError("no restore-gen* image directory under " + tmp));
        }
        byte[] files = Files.readAllBytes(images.resolve("files.img"));
        ImageFile img = ImageFile.parse(files, FILES_MAGIC);
        Set<Long> connectedPeers = new HashSet<>();
        for (int i = 0; i < img.entryCount(); i++) {
            file_entry fe = img.message(i, file_entry.parser());
            if (fe.getType() != fd_types.INETSK) continue;
            inet_sk_entry isk = fe.getIsk();
            if (isk.getState() == SockDiag.TCP_ESTABLISHED) connectedPeers.add((long) isk.getDstPort());
        }
        for (Socket s : held) {
            assertThat(connectedPeers).as("held connection from port " + s.getLocalPort() + " in the restored image; " + backup)
                    .contains((long) s.getLocalPort());
        }
    }

    private static Json engineStats(Cluster c) throws IOException {
        Optional<Json> p = c.status("primary");
        assertThat(p).as("primary status").isPresent();
        Json st = (Json) p.get().get("engineStats");
        assertThat(st).as("engine stats in " + p.get()).isNotNull();
        return st;
    }
}
