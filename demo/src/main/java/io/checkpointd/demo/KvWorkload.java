package io.checkpointd.demo;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * Writer threads that remember every acknowledged write, so {@link #verify} can prove none was lost.
 *
 * <p>Every write is write-once: thread {@code t}'s iteration {@code j = 0, 1, 2, ...} writes the key
 * {@code <run>.t<t>.<j>} with the value {@code <j>.<run>} (see {@link #key} and {@link #value}), where {@code run} is
 * random per workload. No later write can overwrite, and so hide, an earlier one: a lost acknowledged write stays
 * visible however long the workload runs after a failover. A thread sends its writes one at a time and retries each
 * until it is acknowledged, so the writes of thread {@code t} acknowledged so far are exactly {@code j <= }
 * {@link #ackedThrough}; only the one in flight ({@code ackedThrough + 1}) may or may not have been applied. A PUT
 * whose reply never arrived is retried after a reconnect (short exponential backoff), as a client of a failed-over
 * service does.
 *
 * <p>{@link #snapshot()} records what was acknowledged at an instant (the kill of a primary);
 * {@link #verify(InetSocketAddress, Duration, Acked)} checks every acknowledged write, and counts separately those of
 * the snapshot, so a test can say exactly which acknowledged writes a fault lost.
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
     * @param maxOps         total operations (acknowledged or abandoned) across threads; 0 = unlimited
     * @param duration       run at most this long; null = until {@link #stop()}
     * @param connectTimeout TCP connect timeout per attempt
     * @param readTimeout    reply timeout per request
     * @param minBackoff     first pause after a failure
     * @param maxBackoff     cap of the doubling pause
     */
    public record Config(InetSocketAddress target, int threads, long maxOps, Duration duration,
            Duration connectTimeout, Duration readTimeout, Duration minBackoff, Duration maxBackoff) {
        /** Validates the settings. */
        public Config {
            Objects.requireNonNull(target, "target");
            Objects.requireNonNull(connectTimeout, "connectTimeout");
            Objects.requireNonNull(readTimeout, "readTimeout");
            Objects.requireNonNull(minBackoff, "minBackoff");
            Objects.requireNonNull(maxBackoff, "maxBackoff");
            if (threads < 1 || maxOps < 0) {
                throw new IllegalArgumentException("threads must be >= 1, maxOps >= 0");
            }
            if (duration != null && duration.isNegative()) {
                throw new IllegalArgumentException("negative duration");
            }
            if (minBackoff.isNegative() || maxBackoff.compareTo(minBackoff) < 0) {
                throw new IllegalArgumentException("need 0 <= minBackoff <= maxBackoff");
            }
        }

        /** 4 threads, unbounded, 2 s connect / 5 s read timeout, 10..200 ms backoff. */
        public static Config of(InetSocketAddress target) {
            return new Config(target, 4, 0, null, KvClient.DEFAULT_CONNECT_TIMEOUT,
                    KvClient.DEFAULT_READ_TIMEOUT, Duration.ofMillis(10), Duration.ofMillis(200));
        }

        /** Copy with {@code threads} writer threads. */
        public Config withThreads(int threads) {
            return new Config(target, threads, maxOps, duration, connectTimeout, readTimeout, minBackoff, maxBackoff);
        }

        /** Copy that stops after {@code maxOps} operations in total (0 = unlimited). */
        public Config withMaxOps(long maxOps) {
            return new Config(target, threads, maxOps, duration, connectTimeout, readTimeout, minBackoff, maxBackoff);
        }

        /** Copy that stops after {@code duration} (null = until stopped). */
        public Config withDuration(Duration duration) {
            return new Config(target, threads, maxOps, duration, connectTimeout, readTimeout, minBackoff, maxBackoff);
        }

        /** Copy with other connect / read timeouts. */
        public Config withTimeouts(Duration connectTimeout, Duration readTimeout) {
            return new Config(target, threads, maxOps, duration, connectTimeout, readTimeout, minBackoff, maxBackoff);
        }

        /** Copy with another retry backoff range. */
        public Config withBackoff(Duration minBackoff, Duration maxBackoff) {
            return new Config(target, threads, maxOps, duration, connectTimeout, readTimeout, minBackoff, maxBackoff);
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

    /**
     * What was acknowledged at one instant: thread {@code t} had every write {@code j <= through[t]} acknowledged.
     *
     * @param through per thread, the highest acknowledged {@code j} (-1: none)
     */
    public record Acked(long[] through) {
        /** Copies the array. */
        public Acked {
            through = through.clone();
        }

        /** Number of acknowledged writes. */
        public long writes() {
            long n = 0;
            for (long t : through) {
                n += t + 1;
            }
            return n;
        }

        /** Whether write {@code j} of thread {@code t} was acknowledged by then. */
        public boolean covers(int t, long j) {
            return t < through.length && j <= through[t];
        }

        @Override
        public String toString() {
            return writes() + " writes " + java.util.Arrays.toString(through);
        }
    }

    private final Config config;
    private final String run;
    private final AtomicLongArray ackedThrough; // [thread] highest acknowledged j; every lower j is acknowledged too
    private final AtomicLongArray attempted;    // [thread] highest j ever sent, -1 = none
    private final KvClient[] current;           // each thread's live connection, so close() can break it
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
        this.run = Long.toString(ThreadLocalRandom.current().nextLong(36L * 36 * 36 * 36 * 36, 36L * 36 * 36 * 36 * 36 * 36), 36);
        this.ackedThrough = minusOnes(config.threads());
        this.attempted = minusOnes(config.threads());
        this.current = new KvClient[config.threads()];
        this.opBudget = new AtomicLong(config.maxOps() == 0 ? Long.MAX_VALUE : config.maxOps());
    }

    private static AtomicLongArray minusOnes(int n) {
        AtomicLongArray a = new AtomicLongArray(n);
        for (int i = 0; i < n; i++) {
            a.set(i, -1);
        }
        return a;
    }

    /** The key of write {@code j} of thread {@code thread}: {@code <run>.t<thread>.<j>}. */
    public String key(int thread, long j) {
        return run + ".t" + thread + "." + j;
    }

    /** The value of write {@code j}: {@code <j>.<run>}. */
    public String value(long j) {
        return j + "." + run;
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

    /** Highest acknowledged {@code j} of thread {@code thread} (every lower one is acknowledged too), or -1. */
    public long ackedThrough(int thread) {
        return ackedThrough.get(thread);
    }

    /** Waits up to {@code max} until at least {@code writes} writes are acknowledged; true if they are. */
    public boolean awaitAcked(long writes, Duration max) throws InterruptedException {
        long deadline = System.nanoTime() + max.toNanos();
        while (ackedCount.sum() < writes) {
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            Thread.sleep(5);
        }
        return true;
    }

    /** What is acknowledged now; take it at the instant of a fault and pass it to {@link #verify}. */
    public Acked snapshot() {
        long[] through = new long[config.threads()];
        for (int t = 0; t < through.length; t++) {
            through[t] = ackedThrough.get(t);
        }
        return new Acked(through);
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
                String key = key(t, j);
                String value = value(j);
                attempted.set(t, j); // before sending: verify treats a key past it as never written
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
                            ackedThrough.set(t, j);
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

    /** {@link #verify(InetSocketAddress, Duration, Acked)} with no fault snapshot. */
    public VerificationResult verify(InetSocketAddress server, Duration timeout) {
        return verify(server, timeout, null);
    }

    /**
     * Checks that {@code server} holds every write acknowledged so far, each with exactly its value, and holds no
     * write that was never sent ({@link WriteOnceCheck}). Meant for after the workload stopped: while it runs, writes
     * acknowledged after the check began are not checked.
     *
     * @param server  where to read (the restored backup, or the proxy in front of it)
     * @param timeout overall bound, including reconnects
     * @param atFault what was acknowledged at the fault ({@link #snapshot()}), counted apart; null for none
     */
    public VerificationResult verify(InetSocketAddress server, Duration timeout, Acked atFault) {
        long[] sent = new long[config.threads()];
        for (int t = 0; t < sent.length; t++) {
            sent[t] = attempted.get(t);
        }
        return new WriteOnceCheck(this, server, timeout).run(snapshot(), sent, atFault);
    }
}
