package io.checkpointd.demo;

import static io.checkpointd.demo.KvServerProtocolTest.waitUntil;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(120)
class KvWorkloadTest {

    private static KvWorkload.Config config(InetSocketAddress target) {
        return KvWorkload.Config.of(target).withThreads(4).withKeysPerThread(50)
                .withTimeouts(Duration.ofSeconds(1), Duration.ofSeconds(2))
                .withBackoff(Duration.ofMillis(5), Duration.ofMillis(50));
    }

    @Test
    void workloadAgainstALiveServerVerifies() throws Exception {
        try (KvServer server = KvServer.start("127.0.0.1", 0);
                KvWorkload w = new KvWorkload(config(server.address()).withDuration(Duration.ofMillis(700)))) {
            w.start();
            assertThat(w.awaitTermination(Duration.ofSeconds(30))).isTrue();
            KvWorkload.Progress p = w.progress();
            assertThat(p.ackedWrites()).isGreaterThan(200); // every key written at least once
            assertThat(p.errors()).isZero();
            assertThat(p.runningThreads()).isZero();
            assertThat(p.opsPerSecond()).isPositive();
            assertThat(w.latency().snapshot().count()).isEqualTo(p.ackedWrites());
            assertThat(w.unexpectedFailures()).isEmpty();

            VerificationResult r = w.verify(server.address(), Duration.ofSeconds(10));
            assertThat(r.ok()).as(r.summary()).isTrue();
            assertThat(r.checkedKeys()).isEqualTo(4 * 50).isEqualTo(r.okKeys());
            // the store holds exactly the last write of each key, which is the last ack
            assertThat(server.store().size()).isEqualTo(200);
            assertThat(w.ackedWrites()).hasSize(200);
            w.ackedWrites().forEach((k, v) -> assertThat(server.store().snapshot().get(k)).isEqualTo(Long.toString(v)));
        }
    }

    @Test
    void maxOpsBoundsTheRunExactly() throws Exception {
        try (KvServer server = KvServer.start("127.0.0.1", 0);
                KvWorkload w = new KvWorkload(config(server.address()).withMaxOps(1000))) {
            w.start();
            assertThat(w.awaitTermination(Duration.ofSeconds(60))).isTrue();
            assertThat(w.progress().ackedWrites()).isEqualTo(1000);
            assertThat(server.store().puts()).isEqualTo(1000);
            // keys and values follow the documented scheme: t<t>-k<j % keys> = j
            for (int t = 0; t < 4; t++) {
                long acked = w.ackedValue(t, 0);
                if (acked >= 0) {
                    assertThat(acked % 50).isZero();
                    assertThat(server.store().snapshot().get(KvWorkload.key(t, 0))).isEqualTo(Long.toString(acked));
                }
            }
            assertThat(w.verify(server.address(), Duration.ofSeconds(10)).ok()).isTrue();
        }
    }

    @Test
    void verifyDetectsLostWritesOnAFreshServer() throws Exception {
        KvServer server = KvServer.start("127.0.0.1", 0);
        int port = server.port();
        // duration-bound so every writer gets to run (an op budget may be used up by the first thread)
        KvWorkload w = new KvWorkload(config(server.address()).withDuration(Duration.ofMillis(400)));
        try {
            w.start();
            assertThat(w.awaitTermination(Duration.ofSeconds(60))).isTrue();
            assertThat(w.verify(server.address(), Duration.ofSeconds(10)).ok()).isTrue();
            server.close();
            // state loss: same address, empty store (what a failover without a checkpoint looks like)
            server = KvServer.start(new KvServer.Config("127.0.0.1", port, 4, new KvStore()));
            VerificationResult r = w.verify(server.address(), Duration.ofSeconds(10));
            assertThat(r.ok()).isFalse();
            assertThat(r.missingKeys()).isEqualTo(200).isEqualTo(r.checkedKeys()).isEqualTo(w.ackedWrites().size());
            assertThat(r.missingSample()).hasSize(VerificationResult.SAMPLE_SIZE)
                    .first().asString().startsWith("t0-k0 acked=");
            assertThat(r.summary()).startsWith("FAILED").contains("missing=200");
        } finally {
            w.close();
            server.close();
        }
    }

    @Test
    void verifyDetectsStaleAndInvalidValues() throws Exception {
        try (KvServer server = KvServer.start("127.0.0.1", 0);
                KvWorkload w = new KvWorkload(config(server.address()).withDuration(Duration.ofMillis(400)))) {
            w.start();
            assertThat(w.awaitTermination(Duration.ofSeconds(60))).isTrue();
            // robust to uneven scheduling: the busiest thread for the stale key, another one for the rest
            int ts = 0;
            for (int t = 1; t < 4; t++) {
                if (w.ackedValue(t, 3) > w.ackedValue(ts, 3)) {
                    ts = t;
                }
            }
            int ti = ts == 0 ? 1 : 0;
            for (int t = 0; t < 4; t++) {
                if (t != ts && w.ackedValue(t, 4) > w.ackedValue(ti, 4)) {
                    ti = t;
                }
            }
            long acked = w.ackedValue(ts, 3);
            assertThat(acked).isGreaterThanOrEqualTo(50);
            assertThat(w.ackedValue(ti, 4)).isNotNegative();
            try (KvClient c = KvClient.connect(server.address())) {
                c.put(KvWorkload.key(ts, 3), Long.toString(acked - 50)); // an older write of that key
                c.put(KvWorkload.key(ti, 1), "garbage");
                c.put(KvWorkload.key(ti, 2), "3");                       // belongs to key index 3
                c.put(KvWorkload.key(ti, 4), Long.toString(1_000_004));  // never sent
            }
            VerificationResult r = w.verify(server.address(), Duration.ofSeconds(10));
            assertThat(r.ok()).isFalse();
            assertThat(r.staleKeys()).isEqualTo(1);
            assertThat(r.staleSample()).containsExactly("t" + ts + "-k3 acked=" + acked + " got=" + (acked - 50));
            assertThat(r.invalidKeys()).isEqualTo(3);
            assertThat(r.missingKeys()).isZero();
            assertThat(r.okKeys()).isEqualTo(r.checkedKeys() - 4);
        }
    }

    @Test
    void workloadSurvivesServerRestartOnTheSamePort() throws Exception {
        KvStore store = new KvStore(); // survives the restart, like a restored process image
        KvServer server = KvServer.start(new KvServer.Config("127.0.0.1", 0, 4, store));
        int port = server.port();
        KvWorkload w = new KvWorkload(config(server.address()));
        try {
            w.start();
            waitUntil(() -> w.progress().ackedWrites() >= 500, Duration.ofSeconds(30));
            server.close();
            waitUntil(() -> w.progress().errors() >= 4, Duration.ofSeconds(30));
            Thread.sleep(100); // a short outage: writers keep retrying with backoff
            long ackedDuringOutage = w.progress().ackedWrites();
            server = KvServer.start(new KvServer.Config("127.0.0.1", port, 4, store));
            // every writer back, not only enough of them for 500 acks: one may still be in its reconnect backoff
            waitUntil(() -> w.progress().ackedWrites() >= ackedDuringOutage + 500 && w.progress().reconnects() >= 4,
                    Duration.ofSeconds(30));
            w.stop();
            assertThat(w.awaitTermination(Duration.ofSeconds(10))).isTrue();

            KvWorkload.Progress p = w.progress();
            assertThat(p.ackedWrites()).isGreaterThanOrEqualTo(ackedDuringOutage + 500);
            assertThat(p.errors()).isGreaterThanOrEqualTo(4);
            assertThat(p.reconnects()).isGreaterThanOrEqualTo(4); // every writer came back
            assertThat(w.unexpectedFailures()).isEmpty();
            VerificationResult r = w.verify(server.address(), Duration.ofSeconds(10));
            assertThat(r.ok()).as(r.summary()).isTrue();
            // the outage shows up in the latency of the retried operations
            assertThat(w.latency().snapshot().maxNanos()).isGreaterThan(Duration.ofMillis(50).toNanos());
        } finally {
            w.close();
            server.close();
        }
    }

    @Test
    void verifyRetriesUntilTheServerIsBack() throws Exception {
        KvStore store = new KvStore();
        KvServer server = KvServer.start(new KvServer.Config("127.0.0.1", 0, 2, store));
        int port = server.port();
        KvWorkload w = new KvWorkload(config(server.address()).withMaxOps(400));
        AtomicReference<KvServer> restarted = new AtomicReference<>();
        Thread restarter = new Thread(() -> {
            try {
                Thread.sleep(300);
                restarted.set(KvServer.start(new KvServer.Config("127.0.0.1", port, 2, store)));
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        try {
            w.start();
            assertThat(w.awaitTermination(Duration.ofSeconds(60))).isTrue();
            server.close();
            restarter.start();
            VerificationResult r = w.verify(new InetSocketAddress("127.0.0.1", port), Duration.ofSeconds(20));
            assertThat(r.ok()).as(r.summary()).isTrue();
            assertThat(r.elapsed()).isGreaterThanOrEqualTo(Duration.ofMillis(250));
        } finally {
            restarter.join(10_000);
            if (restarted.get() != null) {
                restarted.get().close();
            }
            w.close();
        }
    }

    @Test
    void verifyAgainstAnUnreachableServerIsBoundedAndNotOk() throws Exception {
        InetSocketAddress dead;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            dead = (InetSocketAddress) s.getLocalSocketAddress();
        }
        try (KvServer server = KvServer.start("127.0.0.1", 0);
                KvWorkload w = new KvWorkload(config(server.address()).withMaxOps(100))) {
            w.start();
            assertThat(w.awaitTermination(Duration.ofSeconds(60))).isTrue();
            long t0 = System.nanoTime();
            VerificationResult r = w.verify(dead, Duration.ofMillis(500));
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
            assertThat(r.ok()).isFalse();
            assertThat(r.unverifiedKeys()).isEqualTo(r.checkedKeys()).isEqualTo(w.ackedWrites().size()).isPositive();
        }
    }

    @Test
    void stopEndsWritersThatAreRetryingAgainstADeadServer() throws Exception {
        InetSocketAddress dead;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            dead = (InetSocketAddress) s.getLocalSocketAddress();
        }
        try (KvWorkload w = new KvWorkload(config(dead))) {
            w.start();
            waitUntil(() -> w.progress().errors() >= 8, Duration.ofSeconds(10));
            w.stop();
            assertThat(w.awaitTermination(Duration.ofSeconds(5))).isTrue();
            assertThat(w.progress().ackedWrites()).isZero();
            assertThat(w.ackedWrites()).isEmpty();
            assertThat(w.verify(dead, Duration.ofMillis(100)).ok()).isTrue(); // nothing acked, nothing to lose
        }
    }

    @Test
    void keyNaming() {
        assertThat(KvWorkload.key(3, 17)).isEqualTo("t3-k17");
    }

}
