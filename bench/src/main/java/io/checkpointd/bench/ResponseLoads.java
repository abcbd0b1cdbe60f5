package io.checkpointd.bench;

import io.checkpointd.demo.KvClient;
import io.checkpointd.demo.KvWorkload;
import java.net.InetSocketAddress;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.time.Duration;
import java.util.Arrays;

/**
 * The loads of {@link ResponseBenchmark}, each a warm-up then a measured interval against one address (the service
 * itself, or the proxy in front of a protected one): one connection doing request/response (KV PUTs), the demo's
 * four synchronous clients, and one JDBC connection committing one-row transactions on an H2 server.
 */
final class ResponseLoads {
    /** What one load did in its measured interval: rate, and per request the latency p50/p99 (ms, NaN if unknown). */
    record Measured(double perSecond, double p50, double p99, long count) {
    }

    private ResponseLoads() {
    }

    /** One KV connection, one PUT at a time. */
    static Measured kvSingle(InetSocketAddress at, int warmup, int seconds) throws Exception {
        try (KvClient c = KvClient.connect(at, Duration.ofSeconds(5), Duration.ofSeconds(30))) {
            long[] n = {0};
            Latencies l = loop(warmup, seconds, () -> c.put("k" + (n[0] % 100), Long.toString(n[0]++)));
            return l.measured(seconds);
        }
    }

    /** The demo's clients: {@code threads} synchronous KV clients; the rate is of acknowledged writes. */
    static Measured kvClients(InetSocketAddress at, int threads, int warmup, int seconds) throws Exception {
        try (KvWorkload w = new KvWorkload(KvWorkload.Config.of(at).withThreads(threads))) {
            w.start();
            Thread.sleep(warmup * 1000L);
            long a0 = w.progress().ackedWrites(), t0 = System.nanoTime();
            Thread.sleep(seconds * 1000L);
            long a1 = w.progress().ackedWrites();
            double rate = (a1 - a0) / ((System.nanoTime() - t0) / 1e9);
            w.stop();
            w.awaitTermination(Duration.ofSeconds(30));
            if (!w.unexpectedFailures().isEmpty()) throw new IllegalStateException("workload failed: " + w.unexpectedFailures().get(0));
            return new Measured(rate, Double.NaN, Double.NaN, a1 - a0);
        }
    }

    /** One JDBC connection to H2's TCP server at {@code at}, each INSERT its own committed transaction. */
    static Measured h2Commits(InetSocketAddress at, int warmup, int seconds) throws Exception {
        String url = "jdbc:h2:tcp://" + at.getHostString() + ":" + at.getPort() + "/mem:bench;DB_CLOSE_DELAY=-1";
        try (Connection db = DriverManager.getConnection(url, "sa", "")) {
            try (Statement st = db.createStatement()) {
                st.execute("CREATE TABLE IF NOT EXISTS t(id BIGINT PRIMARY KEY, v VARCHAR(100))");
                st.execute("DELETE FROM t");
            }
            db.setAutoCommit(true);
            try (PreparedStatement ins = db.prepareStatement("INSERT INTO t VALUES (?, ?)")) {
                long[] id = {0};
                Latencies l = loop(warmup, seconds, () -> {
                    ins.setLong(1, ++id[0]);
                    ins.setString(2, "row " + id[0]);
                    ins.executeUpdate(); // autocommit: one transaction, answered once committed
                });
                return l.measured(seconds);
            }
        }
    }

    /** One request of a synchronous loop. */
    @FunctionalInterface
    interface Request {
        void run() throws Exception;
    }

    private static Latencies loop(int warmup, int seconds, Request r) throws Exception {
        long end = System.nanoTime() + warmup * 1_000_000_000L;
        while (System.nanoTime() < end) r.run();
        Latencies l = new Latencies();
        long t0 = System.nanoTime();
        end = t0 + seconds * 1_000_000_000L;
        long now = t0;
        while (now < end) {
            r.run();
            long t = System.nanoTime();
            l.add(t - now);
            now = t;
        }
        l.elapsedNanos = now - t0;
        return l;
    }

    /** Request latencies of one measured interval. */
    private static final class Latencies {
        private long[] v = new long[1 << 16];
        private int n;
        long elapsedNanos;

        void add(long nanos) {
            if (n == v.length) v = Arrays.copyOf(v, n * 2);
            v[n++] = nanos;
        }

        Measured measured(int seconds) {
            long[] s = Arrays.copyOf(v, n);
            Arrays.sort(s);
            return new Measured(n / (elapsedNanos / 1e9), pct(s, 0.5), pct(s, 0.99), n);
        }

        private static double pct(long[] s, double q) {
            if (s.length == 0) return Double.NaN;
            return s[Math.max(0, Math.min(s.length - 1, (int) Math.ceil(q * s.length) - 1))] / 1e6;
        }
    }
}
