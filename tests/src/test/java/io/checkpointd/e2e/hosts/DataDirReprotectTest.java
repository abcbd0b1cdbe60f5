package io.checkpointd.e2e.hosts;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.demo.disk.AppendService;
import io.checkpointd.demo.disk.LineClient;
import io.checkpointd.demo.hosts.HostCluster;
import io.checkpointd.protocol.status.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Two failovers of a service with a data dir: the backup restores it on its host and re-protects it, data dir
 * included, toward a spare host; the backup host is then killed and the spare restores it from its own replica.
 * Three hosts' storages, one path: after the second failover the file the service uses (the spare's) holds exactly
 * the records its memory counts, every acknowledged one included.
 */
class DataDirReprotectTest extends HostTest {
    @Test
    @Timeout(240)
    void theDataDirIsReprotectedAndSurvivesASecondFailover() throws Exception {
        try (HostCluster c = HostCluster.start(HostCluster.Options.of(tmp).withService(AppendService.class.getName(), tmp.resolve("data"))
                .withSpare())) {
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong maxAcked = new AtomicLong();
            List<Thread> clients = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                Thread th = new Thread(() -> appendUntil(c, stop, maxAcked), "append-" + t);
                th.start();
                clients.add(th);
            }
            try {
                awaitAcked(maxAcked, 1, c);
                Thread.sleep(500);
                c.killPrimaryHost();
                Json first = c.awaitFailover(Duration.ofSeconds(60));
                assertThat(((Json) first.get("failover")).get("newPrimaryPid")).as("re-protection started" + c.logs()).isInstanceOf(Long.class);
                long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
                while (true) { // the new primary, on the backup host, gets acks from the spare: data dir included
                    Json p = c.statusOn(c.backupHost(), "primary").orElse(null);
                    if (p != null && Long.valueOf(2).equals(p.get("generation")) && p.get("lastAckedEpoch") instanceof Long l && l >= 3) {
                        assertThat(p.get("dataDirs")).as("the new primary protects the data dir").isInstanceOf(Json.class);
                        break;
                    }
                    assertThat(System.nanoTime() - deadline).as("the new primary gets acks from the spare" + c.logs()).isNegative();
                    Thread.sleep(50);
                }
                long ackedBefore = maxAcked.get();
                awaitAcked(maxAcked, ackedBefore + 1, c); // clients are served (and acknowledged) under re-protection
                Thread.sleep(300);
                c.backupHost().kill();
                stop.set(true);
                Json second = c.awaitFailoverOn(c.spareHost(), Duration.ofSeconds(60));
                for (Thread th : clients) th.join(15_000);
                String ctx = "max acked " + maxAcked.get() + "; spare " + second + c.logs();

                String[] stat = LineClient.callRetrying(c.proxyAddress(), "STAT", Duration.ofSeconds(20)).split(" ");
                long inMemory = Long.parseLong(stat[1]);
                assertThat(stat[3]).as(ctx).isEqualTo("ok");
                assertThat(Long.parseLong(stat[2])).as("file = memory after the second failover; " + ctx).isEqualTo(inMemory);
                assertThat(inMemory).as("every acknowledged append survived both failovers; " + ctx).isGreaterThanOrEqualTo(maxAcked.get());
                assertThat(Files.size(c.dataDirOf(c.spareHost()).resolve("records.log")) / AppendService.RECORD)
                        .as("the service runs on the spare's replica; " + ctx).isEqualTo(inMemory);
                assertThat(((Json) second.get("failover")).get("generation")).isEqualTo(3L);
                System.out.printf("data dir reprotect: %d records after two failovers (max acked %d)%n", inMemory, maxAcked.get());
            } finally {
                stop.set(true);
                for (Thread th : clients) th.join(15_000);
            }
        }
    }

    private static void awaitAcked(AtomicLong maxAcked, long atLeast, HostCluster c) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (maxAcked.get() < atLeast) {
            assertThat(System.nanoTime() - deadline).as("appends acknowledged" + c.logs()).isNegative();
            Thread.sleep(20);
        }
    }

    private static void appendUntil(HostCluster c, AtomicBoolean stop, AtomicLong maxAcked) {
        while (!stop.get()) {
            try (LineClient cl = LineClient.connect(c.proxyAddress(), Duration.ofSeconds(5))) {
                while (!stop.get()) {
                    for (String r : cl.callPipelined("APPEND", 16)) {
                        if (!r.startsWith("OK ")) throw new IOException("unexpected reply " + r);
                        maxAcked.accumulateAndGet(Long.parseLong(r.substring(3)), Math::max);
                    }
                }
            } catch (IOException e) {
                try {
                    Thread.sleep(50);
                } catch (InterruptedException ie) {
                    return;
                }
            }
        }
    }
}
