package io.checkpointd.e2e.hosts;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.demo.disk.LineClient;
import io.checkpointd.demo.hosts.HostCluster;
import io.checkpointd.protocol.status.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A real embedded database (H2 2.3, MVStore, its file locked with a POSIX lock) inside the protected JVM, its files
 * in the data dir: clients commit numbered rows through the proxy; the primary host is killed under load; after
 * the failover every row whose commit was acknowledged is in the restored database, which runs on the backup
 * host's replica of the files, and it takes new commits.
 */
class DataDirH2Test extends HostTest {
    @Test
    @Timeout(180)
    void everyAcknowledgedTransactionSurvivesAKill() throws Exception {
        try (HostCluster c = HostCluster.start(HostCluster.Options.of(tmp).withService(H2Service.class.getName(), tmp.resolve("data")))) {
            Set<Long> acked = ConcurrentHashMap.newKeySet();
            AtomicLong ids = new AtomicLong();
            AtomicBoolean stop = new AtomicBoolean();
            List<Thread> clients = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                Thread th = new Thread(() -> insertUntil(c, stop, ids, acked), "h2-client-" + t);
                th.start();
                clients.add(th);
            }
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (acked.size() < 200 && System.nanoTime() - deadline < 0) Thread.sleep(50); // a few epochs of commits
            Json primary = c.status("primary").orElseThrow();
            c.killPrimaryHost();
            stop.set(true);
            Json backup = c.awaitFailover(Duration.ofSeconds(60));
            for (Thread th : clients) th.join(15_000);
            String ctx = acked.size() + " acked commits; primary " + primary + "; backup " + backup + c.logs();
            assertThat(acked).as(ctx).hasSizeGreaterThanOrEqualTo(100);

            String[] reply = LineClient.callRetrying(c.proxyAddress(), "IDS", Duration.ofSeconds(20)).split(" ");
            assertThat(reply[0]).as(ctx).isEqualTo("IDS");
            Set<Long> present = new HashSet<>();
            for (String s : Arrays.asList(reply).subList(2, reply.length)) present.add(Long.parseLong(s));
            assertThat(present).as("the restored database holds every acknowledged commit; " + ctx).containsAll(acked);
            assertThat(Files.exists(c.dataDirOf(c.backupHost()).resolve("db.mv.db"))).as("it runs on the backup's replica").isTrue();
            assertThat(LineClient.callRetrying(c.proxyAddress(), "INSERT 999999999", Duration.ofSeconds(10))).isEqualTo("OK 999999999");
            System.out.printf("data dir H2: %d acked commits before the kill, %d rows after the failover (restored epoch %s)%n",
                    acked.size(), present.size(), ((Json) backup.get("failover")).get("restoredEpoch"));
        }
    }

    private static void insertUntil(HostCluster c, AtomicBoolean stop, AtomicLong ids, Set<Long> acked) {
        while (!stop.get()) {
            try (LineClient cl = LineClient.connect(c.proxyAddress(), Duration.ofSeconds(5))) {
                while (!stop.get()) {
                    long first = ids.getAndAdd(8);
                    List<String> batch = new ArrayList<>();
                    for (int i = 0; i < 8; i++) batch.add("INSERT " + (first + i));
                    for (String r : cl.callAll(batch)) { // pipelined: output is released once per epoch
                        if (!r.startsWith("OK ")) throw new IOException("unexpected reply " + r);
                        acked.add(Long.parseLong(r.substring(3)));
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
