package io.checkpointd.demo;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(120)
class KvServerConcurrencyTest {

    @Test
    void manyConcurrentClientsOnAFewWorkers() throws Exception {
        int clients = 64;
        int ops = 200;
        // fewer workers than clients: each event loop multiplexes many connections
        try (KvServer server = KvServer.start(new KvServer.Config("127.0.0.1", 0, 4, new KvStore()))) {
            ExecutorService pool = Executors.newFixedThreadPool(clients);
            try {
                List<Callable<Integer>> tasks = new ArrayList<>();
                for (int c = 0; c < clients; c++) {
                    int id = c;
                    tasks.add(() -> {
                        try (KvClient kv = KvClient.connect(server.address())) {
                            for (int i = 0; i < ops; i++) {
                                String key = "c" + id + "-" + (i % 20);
                                assertThat(kv.put(key, Integer.toString(i))).isTrue();
                                assertThat(kv.get(key)).contains(Integer.toString(i));
                            }
                            return id;
                        }
                    });
                }
                // all connected at once: check the server really holds them concurrently
                List<Future<Integer>> results = pool.invokeAll(tasks, 90, TimeUnit.SECONDS);
                for (Future<Integer> f : results) {
                    f.get();
                }
            } finally {
                pool.shutdownNow();
                pool.awaitTermination(10, TimeUnit.SECONDS);
            }
            assertThat(server.store().size()).isEqualTo(clients * 20);
            assertThat(server.store().puts()).isEqualTo((long) clients * ops);
            assertThat(server.store().gets()).isEqualTo((long) clients * ops);
            try (KvClient kv = KvClient.connect(server.address())) {
                assertThat(kv.get("c63-19")).contains("199");
            }
        }
    }

    @Test
    void manyIdleConnectionsDoNotStarveActiveOnes() throws Exception {
        try (KvServer server = KvServer.start(new KvServer.Config("127.0.0.1", 0, 2, new KvStore()))) {
            List<KvClient> idle = new ArrayList<>();
            try {
                for (int i = 0; i < 200; i++) {
                    idle.add(KvClient.connect(server.address()));
                }
                KvServerProtocolTest.waitUntil(() -> server.connectionCount() == 200, java.time.Duration.ofSeconds(10));
                assertThat(server.connectionCount()).isEqualTo(200);
                try (KvClient active = KvClient.connect(server.address())) {
                    for (int i = 0; i < 100; i++) {
                        assertThat(active.put("a", Integer.toString(i))).isTrue();
                    }
                }
                for (KvClient c : idle) {
                    c.ping(); // every idle connection is still served
                }
            } finally {
                idle.forEach(KvClient::close);
            }
        }
    }
}
