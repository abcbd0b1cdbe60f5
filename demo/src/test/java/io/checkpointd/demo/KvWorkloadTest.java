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
        return KvWorkload.Config.of(target).withThreads(4)
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
            assertThat(p.ackedWrites()).isGreaterThan(200);
            assertThat(p.errors()).isZero();
            assertThat(p.runningThreads()).isZero();
            assertThat(p.opsPerSecond()).isPositive();
            assertThat(w.latency().snapshot().count()).isEqualTo(p.ackedWrites());
            assertThat(w.unexpectedFailures()).isEmpty();

            VerificationResult r = w.verify(server.address(), Duration.ofSeconds(10));
            assertThat(r.ok()).as(r.summary()).isTrue();
            assertThat((long) r.checkedKeys()).isEqualTo(p.ackedWrites()).isEqualTo(r.okKeys());
            // write-once: the store holds exactly the acknowledged writes, each under its own key
            assertThat((long) server.store().size()).isEqualTo(p.ackedWrites());
            for (int t = 0; t < 4; t++) {
                for (long j = 0; j <= w.ackedThrough(t); j++) {
                    assertThat(server.store().get(w.key(t, j))).isEqualTo(w.value(j));
                }
            }
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
            assertThat(w.snapshot().writes()).isEqualTo(1000);
            assertThat(w.verify(server.address(), Duration.ofSeconds(10)).ok()).isTrue();
        }
    }

    @Test
    void verifyDetectsLostWritesOnAFreshServer() throws Exception {
        KvServer server = KvServer.start("127.0.0.1", 0);
        int port = server.port();
        KvWorkload w = new KvWorkload(config(server.address()).withDuration(Duration.ofMillis(400)));
        try {
            w.start();
            assertThat(w.awaitTermination(Duration.ofSeconds(60))).isTrue();
            assertThat(w.verify(server.address(), Duration.ofSeconds(10)).ok()).isTrue();
            server.close();
            // state loss: same address, empty store (what a failover without a checkpoint looks like)
            server = KvServer.start(new KvServer.Config("127.0.0.1", port, 4, new KvStore()));
            VerificationResult r = w.verify(server.address(), Duration.ofSeconds(10));
            long acked = w.progress().ackedWrites();
            assertThat(r.ok()).isFalse();
            assertThat((long) r.missingKeys()).isEqualTo(acked).isEqualTo(r.checkedKeys());
            assertThat(r.missingSample()).hasSize(VerificationResult.SAMPLE_SIZE)
                    .first().asString().startsWith(w.key(0, 0) + " (acknowledged)");
            assertThat(r.summary()).startsWith("FAILED").contains("missing=" + acked);
        } finally {
            w.close();
            server.close();
        }
    }

    /** The masked-check regression: writes after the fault must not hide one acknowledged before it. */
    @Test
    void oneLostWriteIsFoundAmongLaterOnes() throws Exception {
        KvStore store = new KvStore();
        try (KvServer server = KvServer.start(new KvServer.Config("127.0.0.1", 0, 4, store));
                KvWorkload w = new KvWorkload(config(server.address()))) {
            w.start();
            waitUntil(() -> w.progress().ackedWrites() >= 400, Duration.ofSeconds(30));
            KvWorkload.Acked atFault = w.snapshot();
            // the fault: the first thread's newest acknowledged write is lost, then the workload goes on
            long lost = atFault.through()[0];
            KvStore restored = new KvStore();
            store.snapshot().forEach(restored::put);
            try (KvServer after = KvServer.start(new KvServer.Config("127.0.0.1", 0, 4, restored))) {
                String lostKey = w.key(0, lost);
                assertThat(restored.get(lostKey)).isEqualTo(w.value(lost));
                w.stop();
                assertThat(w.awaitTermination(Duration.ofSeconds(10))).isTrue();
                // copy everything written meanwhile except the lost key, as a restore that dropped one epoch would
                store.snapshot().forEach(restored::put);
                KvStore withoutLost = new KvStore();
                restored.snapshot().forEach((k, v) -> {
                    if (!k.equals(lostKey)) withoutLost.put(k, v);
                });
                try (KvServer lossy = KvServer.start(new KvServer.Config("127.0.0.1", 0, 4, withoutLost))) {
                    VerificationResult r = w.verify(lossy.address(), Duration.ofSeconds(10), atFault);
                    assertThat(r.ok()).as(r.summary()).isFalse();
                    assertThat(r.missingKeys()).isEqualTo(1);
                    assertThat(r.ackedAtFault()).isEqualTo(atFault.writes());
                    assertThat(r.okAtFault()).isEqualTo(atFault.writes() - 1);
                    assertThat(r.missingSample()).containsExactly(lostKey + " (acknowledged before the fault)");
                }
                VerificationResult whole = w.verify(after.address(), Duration.ofSeconds(10), atFault);
                assertThat(whole.ok()).as(whole.summary()).isTrue();
                assertThat(whole.okAtFault()).isEqualTo(atFault.writes());
            }
        }
    }

    @Test
    void verifyDetectsWrongAndUnsentValues() throws Exception {
        try (KvServer server = KvServer.start("127.0.0.1", 0);
                KvWorkload w = new KvWorkload(config(server.address()).withDuration(Duration.ofMillis(400)))) {
            w.start();
            assertThat(w.awaitTermination(Duration.ofSeconds(60))).isTrue();
            assertThat(w.ackedThrough(0)).isGreaterThanOrEqualTo(3);
            long next = w.ackedThrough(1) + 1;
            try (KvClient c = KvClient.connect(server.address())) {
                c.put(w.key(0, 2), w.value(3));   // another write's value
                c.put(w.key(0, 3), "garbage");
                c.put(w.key(1, next), w.value(next)); // never sent
            }
            VerificationResult r = w.verify(server.address(), Duration.ofSeconds(10));
            assertThat(r.ok()).isFalse();
            assertThat(r.invalidKeys()).isEqualTo(3);
            assertThat(r.invalidSample()).contains(w.key(0, 2) + " holds " + w.value(3) + ", not " + w.value(2),
                    w.key(1, next) + " was never sent but holds " + w.value(next));
            assertThat(r.missingKeys()).isZero();
            assertThat(r.okKeys()).isEqualTo(r.checkedKeys() - 2);
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
            assertThat((long) r.unverifiedKeys()).isEqualTo(r.checkedKeys()).isEqualTo(w.progress().ackedWrites()).isPositive();
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
            assertThat(w.snapshot().writes()).isZero();
            assertThat(w.verify(dead, Duration.ofMillis(100)).ok()).isTrue(); // nothing acked, nothing to lose
        }
    }

    @Test
    void keysAndValuesAreWriteOncePerRun() {
        KvWorkload a = new KvWorkload(config(new InetSocketAddress("127.0.0.1", 1)));
        KvWorkload b = new KvWorkload(config(new InetSocketAddress("127.0.0.1", 1)));
        assertThat(a.key(3, 17)).matches("[0-9a-z]{6}\\.t3\\.17");
        assertThat(a.value(17)).startsWith("17.");
        assertThat(a.key(3, 17)).isNotEqualTo(a.key(3, 18)).isNotEqualTo(b.key(3, 17));
    }
}
