package io.checkpointd.demo;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * Writer threads that remember every acknowledged write, so {@link #verify} can prove none was lost.
 *
 * <p>Thread {@code t} owns keys {@code t<t>-k<i>}, {@code i in [0, keysPerThread)}. Its iteration
 * {@code j = 0, 1, 2, ...} writes key {@code t<t>-k<j % keysPerThread>} with value {@code <j>}. Because
 * only thread {@code t} writes its keys and {@code j} only grows, the highest acknowledged {@code j}
 * per key is a lower bound for what the server must hold. A PUT whose reply never arrived may or may
 * not have been applied; the thread reconnects (with short exponential backoff) and retries the same
 * PUT until it is acknowledged or the workload stops, which is exactly what a client of a failed-over
 * service does.
 *
 * <p>Latency is recorded per logical operation, from the first attempt to the acknowledgement,
 * reconnects and retries included, so a failover shows up as a latency spike rather than vanishing.
 *
 * <p>Lifecycle: {@link #start()}, then {@link #stop()} (or a configured duration / op count ends it),
 * {@link #awaitTermination}, then {@link #verify}. {@link #close()} does all of it with bounded waits.
 */
public final class KvWorkload implements AutoCloseable {

    /**
     * Workload settings; build with {@link #of} and the {@code with...} methods.
     *
     * @param target         where to send requests (the proxy in real use)
     * @param threads        number of writer threads
     * @param keysPerThread  keys each thread cycles through
     * @param maxOps         total operations (acknowledged or abandoned) across threads; 0 = unlimited
     * @param duration       run at most this long; null = until {@link #stop()}
     * @param connectTimeout TCP connect timeout per attempt
     * @param readTimeout    reply timeout per request
     * @param minBackoff     first pause after a failure
     * @param maxBackoff     cap of the doubling pause
     */
    public record Config(InetSocketAddress target, int threads, int keysPerThread, long maxOps, Duration duration,
            Duration connectTimeout, Duration readTimeout, Duration minBackoff, Duration maxBackoff) {
        /** Validates the settings. */
        public Config {
            Objects.requireNonNull(target, "target");
            Objects.requireNonNull(connectTimeout, "connectTimeout");
            Objects.requireNonNull(readTimeout, "readTimeout");
            Objects.requireNonNull(minBackoff, "minBackoff");
            Objects.requireNonNull(maxBackoff, "maxBackoff");
            if (threads < 1 || keysPerThread < 1 || maxOps < 0) {
                throw new IllegalArgumentException("threads and keysPerThread must be >= 1, maxOps >= 0");
            }
            if (duration != null && duration.isNegative()) {
                throw new IllegalArgumentException("negative duration");
            }
            if (minBackoff.isNegative() || maxBackoff.compareTo(minBackoff) < 0) {
                throw new IllegalArgumentException("need 0 <= minBackoff <= maxBackoff");
            }
        }

        /** 4 threads x 100 keys, unbounded, 2 s connect / 5 s read timeout, 10..200 ms backoff. */
        public static Config of(InetSocketAddress target) {
            return new Config(target, 4, 100, 0, null, KvClient.DEFAULT_CONNECT_TIMEOUT,
                    KvClient.DEFAULT_READ_TIMEOUT, Duration.ofMillis(10), Duration.ofMillis(200));
        }

        /** Copy with {@code threads} writer threads. */
        public Config withThreads(int threads) {
            return new Config(target, threads, keysPerThread, maxOps, duration, connectTimeout, readTimeout,
                    minBackoff, maxBackoff);
        }

        /** Copy with {@code keysPerThread} keys per thread. */
        public Config withKeysPerThread(int keysPerThread) {
            return new Config(target, threads, keysPerThread, maxOps, duration, connectTimeout, readTimeout,
                    minBackoff, maxBackoff);
        }

        /** Copy that stops after {@code maxOps} operations in total (0 = unlimited). */
        public Config withMaxOps(long maxOps) {
            return new Config(target, threads, keysPerThread, maxOps, duration, connectTimeout, readTimeout,
                    minBackoff, maxBackoff);
        }

        /** Copy that stops after {@code duration} (null = until stopped). */
        public Config withDuration(Duration duration) {
            return new Config(target, threads, keysPerThread, maxOps, duration, connectTimeout, readTimeout,
                    minBackoff, maxBackoff);
        }

        /** Copy with other connect / read timeouts. */
        public Config withTimeouts(Duration connectTimeout, Duration readTimeout) {
            return new Config(target, threads, keysPerThread, maxOps, duration, connectTimeout, readTimeout,
                    minBackoff, maxBackoff);
        }

        /** Copy with another retry backoff range. */
        public Config withBackoff(Duration minBackoff, Duration maxBackoff) {
            return new Config(target, threads, keysPerThread, maxOps, duration, connectTimeout, readTimeout,
                    minBackoff, maxBackoff);
        }
    }

    /**
     * Live counters.
     *
     * @param ackedWrites    PUTs acknowledged with {@code OK}
     * @param errors         connection failures (each followed by a reconnect attempt)
     * @param reconnects     successful connects after a thread's first one
     * @param rejected       PUTs answered with {@code ERR} (should stay 0)
     * @param elapsed        time since start (until the last thread ended, once finished)
     * @param opsPerSecond   {@code ackedWrites / elapsed}
     * @param runningThreads writer threads still running
     */
    public record Progress(long ackedWrites, long errors, long reconnects, long rejected, Duration elapsed,
            double opsPerSecond, int runningThreads) {
        @Override
        public String toString() {
            return String.format("acked=%d errors=%d reconnects=%d rejected=%d elapsed=%dms ops/s=%.0f running=%d",
                    ackedWrites, errors, reconnects, rejected, elapsed.toMillis(), opsPerSecond, runningThreads);
        }
    }

    private final Config config;
    private final AtomicLongArray[] acked;     // [thread][key] highest acknowledged j, -1 = none
    private final AtomicLongArray[] attempted; // [thread][key] highest j ever sent, -1 = none
    private final KvClient[] current;          // each thread's live connection, so close() can break it
    private final LatencyRecorder latency = new LatencyRecorder();
    private final LongAdder ackedCount = new LongAdder();
    private final LongAdder errors = new LongAdder();
    private final LongAdder reconnects = new LongAdder();
    private final LongAdder rejected = new LongAdder();
    private final AtomicLong opBudget;
    private final AtomicBoolean started = new AtomicBoolean();
    private final ConcurrentLinkedQueue<Throwable> unexpected = new ConcurrentLinkedQueue<>();
    private final List<Thread> threads = new ArrayList<>();
    private CountDownLatch done;
    private volatile boolean stopRequested;
    private volatile long startNanos;
    private volatile long endNanos;
    private volatile long deadlineNanos;

    /** Creates a workload; nothing runs until {@link #start()}. */
    public KvWorkload(Config config) {
        this.config = Objects.requireNonNull(config, "config");
        this.acked = new AtomicLongArray[config.threads()];
        this.attempted = new AtomicLongArray[config.threads()];
        this.current = new KvClient[config.threads()];
        for (int t = 0; t < config.threads(); t++) {
            acked[t] = minusOnes(config.keysPerThread());
            attempted[t] = minusOnes(config.keysPerThread());
        }
        this.opBudget = new AtomicLong(config.maxOps() == 0 ? Long.MAX_VALUE : config.maxOps());
    }

    private static AtomicLongArray minusOnes(int n) {
        AtomicLongArray a = new AtomicLongArray(n);
        for (int i = 0; i < n; i++) {
            a.set(i, -1);
        }
        return a;
    }

    /** The key thread {@code thread} uses for index {@code index}: {@code t<thread>-k<index>}. */
    public static String key(int thread, int index) {
        return "t" + thread + "-k" + index;
    }

    /** The settings. */
    public Config config() {
        return config;
    }

    /** Starts the writer threads. May be called once. */
    public synchronized void start() {
        if (!started.compareAndSet(false, true)) {
            throw new IllegalStateException("already started");
        }
        done = new CountDownLatch(config.threads());
        startNanos = System.nanoTime();
        deadlineNanos = config.duration() == null ? 0 : startNanos + config.duration().toNanos();
        for (int t = 0; t < config.threads(); t++) {
            int id = t;
            Thread th = new Thread(() -> runWriter(id), "kv-workload-" + t);
            th.setDaemon(true); // a forgotten workload must not keep a test JVM alive
            threads.add(th);
        }
        threads.forEach(Thread::start);
    }

    /** Asks every writer to stop after its current request; does not wait. */
    public void stop() {
        stopRequested = true;
    }

    /** Waits up to {@code timeout} for every writer to end; true if they all did. */
    public boolean awaitTermination(Duration timeout) throws InterruptedException {
        if (done == null) {
            return true;
        }
        return done.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    /** True between {@link #start()} and the end of the last writer. */
    public boolean isRunning() {
        return done != null && done.getCount() > 0;
    }

    /**
     * Stops, waits up to the read timeout plus a second for writers to finish their request, then
     * breaks the connections of any still blocked and waits a little more.
     */
    @Override
    public void close() {
        stop();
        try {
            if (!awaitTermination(config.readTimeout().plusSeconds(1))) {
                for (int t = 0; t < current.length; t++) {
                    KvClient c;
                    synchronized (current) {
                        c = current[t];
                    }
                    if (c != null) {
                        c.close();
                    }
                }
                awaitTermination(Duration.ofSeconds(2));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Live counters. */
    public Progress progress() {
        long start = startNanos;
        long end = endNanos;
        long now = start == 0 ? 0 : (end != 0 ? end : System.nanoTime()) - start;
        long ackedNow = ackedCount.sum();
        double rate = now <= 0 ? 0 : ackedNow / (now / 1e9);
        return new Progress(ackedNow, errors.sum(), reconnects.sum(), rejected.sum(), Duration.ofNanos(now), rate,
                done == null ? 0 : (int) done.getCount());
    }

    /** Per-operation latency (first attempt to acknowledgement). */
    public LatencyRecorder latency() {
        return latency;
    }

    /** Unexpected exceptions that ended a writer thread (should be empty). */
    public List<Throwable> unexpectedFailures() {
        return List.copyOf(unexpected);
    }

    /** Highest acknowledged {@code j} of key {@code (thread, index)}, or -1 if none. */
    public long ackedValue(int thread, int index) {
        return acked[thread].get(index);
    }

    /** Every key with an acknowledged write, mapped to its highest acknowledged {@code j}. */
    public Map<String, Long> ackedWrites() {
        Map<String, Long> m = new LinkedHashMap<>();
        for (int t = 0; t < acked.length; t++) {
            for (int i = 0; i < config.keysPerThread(); i++) {
                long v = acked[t].get(i);
                if (v >= 0) {
                    m.put(key(t, i), v);
                }
            }
        }
        return m;
    }

    private boolean shouldStop() {
        long d = deadlineNanos;
        return stopRequested || (d != 0 && System.nanoTime() - d >= 0);
    }

    private void runWriter(int t) {
        KvClient client = null;
        boolean connectedBefore = false;
        long backoff = config.minBackoff().toNanos();
        try {
            outer:
            for (long j = 0; !shouldStop(); j++) {
                if (opBudget.getAndDecrement() <= 0) {
                    break;
                }
                int i = (int) (j % config.keysPerThread());
                String key = key(t, i);
                String value = Long.toString(j);
                attempted[t].set(i, j); // before sending: verify uses it as the upper bound
                long opStart = System.nanoTime();
                while (true) {
                    if (shouldStop()) {
                        break outer; // abandon the unacknowledged PUT; allowed to be applied or not
                    }
                    try {
                        if (client == null) {
                            client = KvClient.connect(config.target(), config.connectTimeout(), config.readTimeout());
                            setCurrent(t, client);
                            if (connectedBefore) {
                                reconnects.increment();
                            }
                            connectedBefore = true;
                        }
                        if (client.put(key, value)) {
                            latency.record(System.nanoTime() - opStart);
                            acked[t].set(i, j); // j only grows per key, so a plain set keeps the max
                            ackedCount.increment();
                            backoff = config.minBackoff().toNanos();
                            break;
                        }
                        rejected.increment(); // ERR: not an ack; retry like a failure
                    } catch (IOException e) {
                        errors.increment();
                        setCurrent(t, null);
                        if (client != null) {
                            client.close();
                        }
                        client = null;
                    }
                    sleepNanos(backoff);
                    backoff = Math.min(config.maxBackoff().toNanos(), Math.max(1_000_000, backoff * 2));
                }
            }
        } catch (RuntimeException | Error e) {
            unexpected.add(e);
        } finally {
            setCurrent(t, null);
            if (client != null) {
                client.close();
            }
            finishWriter();
        }
    }

    private void setCurrent(int t, KvClient c) {
        synchronized (current) {
            current[t] = c;
        }
    }

    private synchronized void finishWriter() {
        if (done.getCount() == 1) {
            endNanos = System.nanoTime();
        }
        done.countDown();
    }

    /** Sleeps in slices so a stop request is honoured quickly; Thread.sleep is monotonic. */
    private void sleepNanos(long nanos) {
        long end = System.nanoTime() + nanos;
        long left;
        while ((left = end - System.nanoTime()) > 0 && !shouldStop()) {
            try {
                Thread.sleep(Math.max(1, Math.min(20, TimeUnit.NANOSECONDS.toMillis(left))));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /**
     * Checks that {@code server} holds every acknowledged write: for each key with an acknowledged
     * {@code j}, GET must return a value {@code v >= j} (a later, unacknowledged PUT may have landed).
     * A value that is not a number, does not belong to the key ({@code v % keysPerThread != index}) or
     * was never sent ({@code v >} highest attempted) counts as invalid. Connection errors are retried
     * with backoff until {@code timeout}; keys not reached by then are reported as unverified.
     *
     * <p>Meant for after the workload stopped; while it runs the check is still sound (the
     * acknowledged value is read before the GET), just a moving target.
     *
     * @param server where to read (the restored backup, or the proxy in front of it)
     * @param timeout overall bound, including reconnects
     */
    public VerificationResult verify(InetSocketAddress server, Duration timeout) {
        long begin = System.nanoTime();
        long deadline = begin + timeout.toNanos();
        int checked = 0;
        int okCount = 0;
        int unverified = 0;
        List<String> missing = new ArrayList<>();
        List<String> stale = new ArrayList<>();
        List<String> invalid = new ArrayList<>();
        int[] counts = new int[3]; // missing, stale, invalid
        KvClient client = null;
        long backoff = config.minBackoff().toNanos();
        try {
            for (int t = 0; t < acked.length; t++) {
                for (int i = 0; i < config.keysPerThread(); i++) {
                    long want = acked[t].get(i);
                    if (want < 0) {
                        continue;
                    }
                    checked++;
                    String key = key(t, i);
                    Optional<String> got = null;
                    while (got == null && System.nanoTime() - deadline < 0) {
                        try {
                            if (client == null) {
                                Duration left = Duration.ofNanos(Math.max(1_000_000, deadline - System.nanoTime()));
                                client = KvClient.connect(server, min(config.connectTimeout(), left),
                                        min(config.readTimeout(), left));
                            }
                            got = client.get(key);
                        } catch (IOException e) {
                            if (client != null) {
                                client.close();
                            }
                            client = null;
                            sleepUntilAtMost(backoff, deadline);
                            backoff = Math.min(config.maxBackoff().toNanos(), Math.max(1_000_000, backoff * 2));
                        }
                    }
                    if (got == null) {
                        unverified++;
                        continue;
                    }
                    long sent = attempted[t].get(i);
                    if (got.isEmpty()) {
                        add(missing, counts, 0, key + " acked=" + want);
                        continue;
                    }
                    long v;
                    try {
                        v = Long.parseLong(got.get());
                    } catch (NumberFormatException e) {
                        add(invalid, counts, 2, key + " acked=" + want + " got=" + abbreviate(got.get()));
                        continue;
                    }
                    if (v < 0 || v % config.keysPerThread() != i || v > sent) {
                        add(invalid, counts, 2, key + " acked=" + want + " sent<=" + sent + " got=" + v);
                    } else if (v < want) {
                        add(stale, counts, 1, key + " acked=" + want + " got=" + v);
                    } else {
                        okCount++;
                    }
                }
            }
        } finally {
            if (client != null) {
                client.close();
            }
        }
        return new VerificationResult(checked, okCount, counts[0], counts[1], counts[2], unverified, missing, stale,
                invalid, Duration.ofNanos(System.nanoTime() - begin));
    }

    private static void add(List<String> sample, int[] counts, int which, String entry) {
        counts[which]++;
        if (sample.size() < VerificationResult.SAMPLE_SIZE) {
            sample.add(entry);
        }
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    private static void sleepUntilAtMost(long nanos, long deadline) {
        long ms = TimeUnit.NANOSECONDS.toMillis(Math.min(nanos, deadline - System.nanoTime()));
        if (ms > 0) {
            try {
                Thread.sleep(ms);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }
}
