package io.checkpointd.demo;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Lock-free latency histogram: any number of threads {@link #record} while others take
 * {@link #snapshot snapshots}. Values are nanoseconds in log-linear buckets (exact below 256 ns, then
 * 128 sub-buckets per power of two), so percentiles are within 1% of the true value at fixed memory,
 * however long a benchmark runs. Snapshots can be subtracted to measure an interval (e.g. excluding
 * warm-up) without stopping the recorders.
 */
public final class LatencyRecorder {
    private static final int LINEAR = 256;        // values below this get their own bucket
    private static final int SUB_BITS = 7;        // 128 sub-buckets per power of two
    private static final int SUB = 1 << SUB_BITS;
    private static final int BUCKETS = LINEAR + (63 - 8) * SUB;

    private final AtomicLongArray counts = new AtomicLongArray(BUCKETS);
    private final AtomicLong max = new AtomicLong();

    /** Creates an empty recorder. */
    public LatencyRecorder() {}

    /** Records one latency in nanoseconds (negative values count as 0). */
    public void record(long nanos) {
        long v = Math.max(0, nanos);
        counts.incrementAndGet(bucket(v));
        long m;
        while (v > (m = max.get()) && !max.compareAndSet(m, v)) {
            // retry: another thread raised max concurrently
        }
    }

    static int bucket(long v) {
        if (v < LINEAR) {
            return (int) v;
        }
        int e = 63 - Long.numberOfLeadingZeros(v); // >= 8
        int shift = e - SUB_BITS;
        int sub = (int) (v >>> shift) - SUB;       // [0, 128)
        return LINEAR + (e - 8) * SUB + sub;
    }

    /** Largest value that falls into bucket {@code i}. */
    static long upperBound(int i) {
        if (i < LINEAR) {
            return i;
        }
        int e = (i - LINEAR) / SUB + 8;
        int sub = (i - LINEAR) % SUB + SUB;
        int shift = e - SUB_BITS;
        return (((long) sub + 1) << shift) - 1;
    }

    /** A consistent-enough copy of the current counts (each bucket read atomically). */
    public Snapshot snapshot() {
        long[] c = new long[BUCKETS];
        for (int i = 0; i < BUCKETS; i++) {
            c[i] = counts.get(i);
        }
        return new Snapshot(c, max.get());
    }

    /** Immutable histogram contents with percentile queries. */
    public static final class Snapshot {
        private final long[] counts;
        private final long maxNanos;
        private final long count;
        private final double sumNanos;

        Snapshot(long[] counts, long maxNanos) {
            this.counts = counts;
            this.maxNanos = maxNanos;
            long n = 0;
            double sum = 0;
            for (int i = 0; i < counts.length; i++) {
                n += counts[i];
                sum += (double) counts[i] * midpoint(i);
            }
            this.count = n;
            this.sumNanos = sum;
        }

        private static double midpoint(int i) {
            long lo = i == 0 ? 0 : upperBound(i - 1) + 1;
            return (lo + upperBound(i)) / 2.0;
        }

        /**
         * What was recorded after {@code earlier} (a snapshot of the same recorder). The max of the
         * difference is the upper bound of its highest non-empty bucket, capped by the overall max.
         */
        public Snapshot minus(Snapshot earlier) {
            long[] d = new long[counts.length];
            long m = 0;
            for (int i = 0; i < d.length; i++) {
                d[i] = Math.max(0, counts[i] - earlier.counts[i]);
                if (d[i] > 0) {
                    m = Math.min(upperBound(i), maxNanos);
                }
            }
            return new Snapshot(d, m);
        }

        /** Number of recorded values. */
        public long count() {
            return count;
        }

        /** Largest recorded value (ns), 0 if empty. */
        public long maxNanos() {
            return maxNanos;
        }

        /** Approximate mean (ns), 0 if empty. */
        public double meanNanos() {
            return count == 0 ? 0 : sumNanos / count;
        }

        /**
         * The value at or below which {@code percentile}% of the values lie (nearest rank, reported as
         * the bucket's upper bound capped at the max), 0 if empty.
         */
        public long percentileNanos(double percentile) {
            if (percentile < 0 || percentile > 100) {
                throw new IllegalArgumentException("percentile out of range: " + percentile);
            }
            if (count == 0) {
                return 0;
            }
            long rank = Math.max(1, (long) Math.ceil(percentile / 100.0 * count));
            long seen = 0;
            for (int i = 0; i < counts.length; i++) {
                seen += counts[i];
                if (seen >= rank) {
                    return Math.min(upperBound(i), maxNanos);
                }
            }
            return maxNanos;
        }

        /** {@link #percentileNanos} as a Duration. */
        public Duration percentile(double percentile) {
            return Duration.ofNanos(percentileNanos(percentile));
        }

        @Override
        public String toString() {
            return String.format("count=%d p50=%.1fus p99=%.1fus p99.9=%.1fus max=%.1fus", count,
                    percentileNanos(50) / 1e3, percentileNanos(99) / 1e3, percentileNanos(99.9) / 1e3,
                    maxNanos / 1e3);
        }
    }
}
