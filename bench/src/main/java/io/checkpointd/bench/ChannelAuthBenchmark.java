package io.checkpointd.bench;

import io.checkpointd.linux.proc.ProcessIdentity;
import io.checkpointd.primary.ship.ReplicationClient;
import io.checkpointd.protocol.Frame;
import io.checkpointd.protocol.FrameType;
import io.checkpointd.protocol.auth.ChannelKey;
import io.checkpointd.protocol.auth.DeploymentCa;
import io.checkpointd.protocol.auth.Role;
import io.checkpointd.protocol.replication.DeltaComputer;
import io.checkpointd.protocol.replication.EpochBegin;
import io.checkpointd.protocol.replication.EpochEnd;
import io.checkpointd.protocol.replication.Hello;
import io.checkpointd.restore.BackupConfig;
import io.checkpointd.restore.BackupDaemon;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Replication with TLS against the shared key, in one run: a real backup daemon (in-process, its store on tmpfs so
 * the disk does not drown the difference) receives epochs from a {@link ReplicationClient} over loopback, once per
 * mode and round, modes interleaved. Small epochs (64 KiB changed, sent one at a time) give the ack latency, from
 * the first frame sent to the ACK; large ones (8 MiB of incompressible data, one at a time) the throughput. Prints both modes side
 * by side and writes the "Channel authentication" section of docs/benchmarks.md.
 *
 * <pre>
 * java -cp ... io.checkpointd.bench.ChannelAuthBenchmark [--small 300] [--large 30] [--rounds 3] [--docs docs/benchmarks.md]
 * </pre>
 */
public final class ChannelAuthBenchmark {
    private static final String BEGIN = "<!-- channel-auth-benchmark:begin (written by ChannelAuthBenchmark) -->";
    private static final String END = "<!-- channel-auth-benchmark:end -->";
    private static final int SMALL = 64 << 10, LARGE = 8 << 20;

    private final int small;
    private final int large;
    private final Path work;
    private final Random rnd = new Random(1);

    private ChannelAuthBenchmark(int small, int large, Path work) {
        this.small = small;
        this.large = large;
        this.work = work;
    }

    /** One mode's figures in one round. */
    record Result(String mode, double[] ackMs, double largeMBps) {
        double p(double q) {
            double[] s = ackMs.clone();
            Arrays.sort(s);
            return s[Math.min(s.length - 1, (int) Math.floor(q * s.length))];
        }
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = new LinkedHashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) opt.put(args[i], args[i + 1]);
        int rounds = Integer.parseInt(opt.getOrDefault("--rounds", "3"));
        Path shm = Path.of("/dev/shm");
        Path work = Files.createTempDirectory(Files.isDirectory(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir")), "cpd-auth-bench");
        ChannelAuthBenchmark b = new ChannelAuthBenchmark(Integer.parseInt(opt.getOrDefault("--small", "300")),
                Integer.parseInt(opt.getOrDefault("--large", "30")), work);
        DeploymentCa ca = DeploymentCa.create("bench", Duration.ofDays(1));
        Map<String, ChannelKey[]> modes = new LinkedHashMap<>();
        ChannelKey shared = ChannelKey.random();
        modes.put("shared key (HMAC-SHA256)", new ChannelKey[] {shared, shared});
        modes.put("TLS 1.3 (mutual)", new ChannelKey[] {
                ChannelKey.tls(ca.identity(ca.issue("backup", EnumSet.of(Role.BACKUP)))),
                ChannelKey.tls(ca.identity(ca.issue("primary", EnumSet.of(Role.PRIMARY))))});
        Map<String, List<Result>> results = new LinkedHashMap<>();
        try {
            // a first round per mode, not counted: the JIT compiles both paths before anything is measured
            for (Map.Entry<String, ChannelKey[]> m : modes.entrySet()) b.run(m.getKey(), m.getValue()[0], m.getValue()[1], "warm");
            for (int r = 0; r < rounds; r++) {
                for (Map.Entry<String, ChannelKey[]> m : modes.entrySet()) {
                    Result res = b.run(m.getKey(), m.getValue()[0], m.getValue()[1], "r" + r);
                    results.computeIfAbsent(m.getKey(), k -> new ArrayList<>()).add(res);
                    System.out.printf(Locale.ROOT, "round %d %-26s ack p50 %.2f ms p99 %.2f ms, %d MiB epochs %.0f MB/s%n", r, m.getKey(),
                            res.p(0.5), res.p(0.99), LARGE >> 20, res.largeMBps());
                }
            }
        } finally {
            deleteTree(work);
        }
        String section = section(results, b, rounds);
        System.out.println(section);
        Path docs = Path.of(opt.getOrDefault("--docs", "docs/benchmarks.md"));
        if (Files.exists(docs)) DocSection.replaceBetween(docs, section, BEGIN, END);
    }

    private Result run(String mode, ChannelKey backupKey, ChannelKey primaryKey, String tag) throws Exception {
        Path store = work.resolve(tag + "-" + mode.replaceAll("[^a-zA-Z0-9]", ""));
        BlockingQueue<Long> acks = new ArrayBlockingQueue<>(16);
        try (BackupDaemon backup = BackupDaemon.start(new BackupConfig(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), store,
                null, Duration.ofHours(1), null, work.resolve("run"), null, backupKey))) {
            Hello hello = new Hello(1, 99_999, 1, ProcessIdentity.currentBootId(), "");
            try (ReplicationClient c = ReplicationClient.connect(backup.boundAddress(), primaryKey, hello, Duration.ofMillis(100),
                    Duration.ofSeconds(10), new Acks(acks))) {
                long epoch = 1;
                epoch(c, epoch, EpochBegin.FULL, SMALL, acks); // the base
                for (int i = 0; i < 20; i++, epoch++) epoch(c, epoch + 1, epoch, SMALL, acks); // warm-up
                double[] ack = new double[small];
                for (int i = 0; i < small; i++, epoch++) ack[i] = epoch(c, epoch + 1, epoch, SMALL, acks) / 1e6;
                for (int i = 0; i < 3; i++, epoch++) epoch(c, epoch + 1, epoch, LARGE, acks); // warm-up
                long nanos = 0;
                for (int i = 0; i < large; i++, epoch++) nanos += epoch(c, epoch + 1, epoch, LARGE, acks);
                double secs = nanos / 1e9;
                return new Result(mode, ack, (double) large * LARGE / 1e6 / secs);
            }
        }
    }

    private final Map<Integer, byte[][]> pools = new java.util.HashMap<>();
    private int turn;

    /** Random data made once: the figures are the channel's and the backup's, not the random generator's. */
    private byte[] pool(int bytes) {
        byte[][] p = pools.computeIfAbsent(bytes, b -> {
            byte[][] q = new byte[4][b];
            for (byte[] x : q) rnd.nextBytes(x);
            return q;
        });
        return p[turn++ & 3];
    }

    /** Ships epoch {@code n} on {@code base} changing one file of {@code bytes} random bytes; returns ns to its ACK. */
    private long epoch(ReplicationClient c, long n, long base, int bytes, BlockingQueue<Long> acks) throws Exception {
        byte[] data = pool(bytes);
        List<byte[]> payloads = new ArrayList<>();
        DeltaComputer.emitFile("core-1.img", data, rec -> payloads.add(rec.encode()));
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        Map<String, Long> manifest = new TreeMap<>(Map.of("core-1.img", (long) bytes));
        long t0 = System.nanoTime();
        c.send(new Frame(FrameType.EPOCH_BEGIN, 1, n, new EpochBegin(base, 0, bytes).encode()));
        for (byte[] p : payloads) {
            c.send(new Frame(FrameType.EPOCH_DATA, 1, n, p));
            md.update(p);
        }
        c.send(new Frame(FrameType.EPOCH_END, 1, n, new EpochEnd(payloads.size(), md.digest(), manifest).encode()));
        Long acked = acks.poll(30, TimeUnit.SECONDS);
        if (acked == null || acked != n) throw new IllegalStateException("epoch " + n + " answered " + acked + " (see the backup's log)");
        return System.nanoTime() - t0;
    }

    private static String section(Map<String, List<Result>> results, ChannelAuthBenchmark b, int rounds) {
        StringBuilder s = new StringBuilder("## Channel authentication: TLS vs shared key\n\n");
        s.append(String.format(Locale.ROOT, "Written by `ChannelAuthBenchmark` (bench module) on %s. A real backup daemon in-process, store on "
                + "tmpfs, one primary connection over loopback; a warm-up round per mode, then modes interleaved, %d rounds; the first table gives the round with the median ack p50 and the median throughput. Ack "
                + "latency: %d epochs of %d KiB changed, each from its first frame to its ACK. Throughput: %d epochs of %d MiB "
                + "of incompressible data, one at a time, over the time from each one's first frame to its ACK (the backup's "
                + "commit included: SHA-256 and tmpfs writes). Load average at the end: %s. Run it with `java -cp ... "
                + "io.checkpointd.bench.ChannelAuthBenchmark` (options in its Javadoc).%n%n", HostInfo.machine(), rounds, b.small, SMALL >> 10, b.large, LARGE >> 20, HostInfo.loadAverage()));
        s.append("| channel | ack p50 | ack p99 | throughput |\n|---|---|---|---|\n");
        for (Map.Entry<String, List<Result>> e : results.entrySet()) {
            List<Result> rs = new ArrayList<>(e.getValue());
            rs.sort((x, y) -> Double.compare(x.p(0.5), y.p(0.5)));
            Result med = rs.get(rs.size() / 2);
            double mbps = e.getValue().stream().mapToDouble(Result::largeMBps).sorted().toArray()[rs.size() / 2];
            s.append(String.format(Locale.ROOT, "| %s | %.2f ms | %.2f ms | %.0f MB/s |%n", e.getKey(), med.p(0.5), med.p(0.99), mbps));
        }
        s.append("\nEvery round, in the order run:\n\n| round | channel | ack p50 | ack p99 | throughput |\n|---|---|---|---|---|\n");
        for (int r = 0; r < rounds; r++) {
            for (Map.Entry<String, List<Result>> e : results.entrySet()) {
                Result x = e.getValue().get(r);
                s.append(String.format(Locale.ROOT, "| %d | %s | %.2f ms | %.2f ms | %.0f MB/s |%n", r, e.getKey(), x.p(0.5), x.p(0.99), x.largeMBps()));
            }
        }
        return s.toString();
    }

    private static void deleteTree(Path dir) throws java.io.IOException {
        try (var s = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) s.sorted(java.util.Comparator.reverseOrder())::iterator) Files.deleteIfExists(p);
        }
    }

    private record Acks(BlockingQueue<Long> queue) implements ReplicationClient.Listener {
        @Override
        public void acked(long generation, long epoch) {
            queue.offer(epoch);
        }

        @Override
        public void nacked(long epoch, String reason) {
            System.err.println("NACK of epoch " + epoch + ": " + reason);
            queue.offer(-epoch);
        }

        @Override
        public void fenced(long fencedGeneration) {
            queue.offer(Long.MIN_VALUE);
        }

        @Override
        public void disconnected() {
            queue.offer(Long.MIN_VALUE);
        }
    }
}
