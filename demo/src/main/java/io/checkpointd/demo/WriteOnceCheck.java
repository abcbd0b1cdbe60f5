package io.checkpointd.demo;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * One verification of a {@link KvWorkload}'s write-once writes against a server: every acknowledged write must be
 * present with exactly its value, and each thread's next key after its last attempt must be absent (nothing the
 * workload never sent). Keys are read in pipelined batches over one connection; connection errors are retried with
 * the workload's backoff until the timeout, and keys not reached by then are reported as unverified.
 */
final class WriteOnceCheck {
    /** Keys read per pipelined batch. */
    private static final int BATCH = 256;
    private static final int ACKED = 0, NEVER_SENT = 1;

    private final KvWorkload workload;
    private final InetSocketAddress server;
    private final long begin = System.nanoTime();
    private final long deadline;
    private KvClient client;

    WriteOnceCheck(KvWorkload workload, InetSocketAddress server, Duration timeout) {
        this.workload = workload;
        this.server = server;
        this.deadline = begin + timeout.toNanos();
    }

    /**
     * @param acked   what is acknowledged now
     * @param sent    per thread, the highest write ever sent
     * @param atFault what was acknowledged at the fault, counted apart; null for none
     */
    VerificationResult run(KvWorkload.Acked acked, long[] sent, KvWorkload.Acked atFault) {
        VerificationResult.Builder result = new VerificationResult.Builder(atFault == null ? -1 : atFault.writes());
        List<long[]> pending = new ArrayList<>(BATCH); // {thread, j, kind}
        try {
            for (int t = 0; t < sent.length; t++) {
                for (long j = 0; j <= acked.through()[t]; j++) {
                    pending.add(new long[] {t, j, ACKED});
                    if (pending.size() == BATCH) {
                        check(pending, atFault, result);
                    }
                }
                pending.add(new long[] {t, Math.max(sent[t], acked.through()[t]) + 1, NEVER_SENT});
            }
            check(pending, atFault, result);
        } finally {
            disconnect();
        }
        return result.build(Duration.ofNanos(System.nanoTime() - begin));
    }

    private void check(List<long[]> batch, KvWorkload.Acked atFault, VerificationResult.Builder result) {
        if (batch.isEmpty()) {
            return;
        }
        List<String> keys = new ArrayList<>(batch.size());
        for (long[] w : batch) {
            keys.add(workload.key((int) w[0], w[1]));
        }
        List<Optional<String>> got = read(keys);
        for (int i = 0; i < batch.size(); i++) {
            long[] w = batch.get(i);
            long j = w[1];
            String key = keys.get(i);
            boolean beforeFault = atFault != null && atFault.covers((int) w[0], j);
            if (w[2] == NEVER_SENT) {
                if (got != null && got.get(i).isPresent()) {
                    result.invalid(key + " was never sent but holds " + abbreviate(got.get(i).get()));
                }
            } else if (got == null) {
                result.unverified();
            } else if (got.get(i).isEmpty()) {
                result.missing(key + " (acknowledged" + (beforeFault ? " before the fault)" : ")"));
            } else if (!got.get(i).get().equals(workload.value(j))) {
                result.wrongValue(key + " holds " + abbreviate(got.get(i).get()) + ", not " + workload.value(j));
            } else {
                result.ok(beforeFault);
            }
        }
        batch.clear();
    }

    /** The values of {@code keys}, or null if the server stayed unreachable until the deadline. */
    private List<Optional<String>> read(List<String> keys) {
        KvWorkload.Config config = workload.config();
        long backoff = config.minBackoff().toNanos();
        while (System.nanoTime() - deadline < 0) {
            try {
                if (client == null) {
                    Duration left = Duration.ofNanos(Math.max(1_000_000, deadline - System.nanoTime()));
                    client = KvClient.connect(server, min(config.connectTimeout(), left), min(config.readTimeout(), left));
                }
                return client.getAll(keys);
            } catch (IOException e) {
                disconnect();
                sleepAtMost(backoff);
                backoff = Math.min(config.maxBackoff().toNanos(), Math.max(1_000_000, backoff * 2));
            }
        }
        return null;
    }

    private void disconnect() {
        if (client != null) {
            client.close();
        }
        client = null;
    }

    private void sleepAtMost(long nanos) {
        long ms = TimeUnit.NANOSECONDS.toMillis(Math.min(nanos, deadline - System.nanoTime()));
        if (ms > 0) {
            try {
                Thread.sleep(ms);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }
}
