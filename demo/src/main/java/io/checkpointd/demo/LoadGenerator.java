package io.checkpointd.demo;

import java.time.Duration;
import java.util.Objects;

/**
 * Benchmark mode of {@link KvWorkload}: run for a fixed time and/or operation count, optionally after
 * a warm-up that is excluded from the numbers, and report throughput and latency percentiles. Used to
 * compare the unprotected service with the same service behind checkpointd.
 */
public final class LoadGenerator {
    private LoadGenerator() {}

    /**
     * What to measure.
     *
     * @param warmup   run this long before measuring (JIT, connection setup); zero for none
     * @param duration measure for this long; null = until {@code maxOps} is reached
     * @param maxOps   stop after this many operations in total, warm-up included; 0 = unlimited
     * @param verify   after the run, {@link KvWorkload#verify verify} against the target
     */
    public record Options(Duration warmup, Duration duration, long maxOps, boolean verify) {
        /** Validates the options: at least one of duration / maxOps must bound the run. */
        public Options {
            Objects.requireNonNull(warmup, "warmup");
            if (duration == null && maxOps <= 0) {
                throw new IllegalArgumentException("need a duration or a max op count");
            }
            if (warmup.isNegative() || (duration != null && duration.isNegative()) || maxOps < 0) {
                throw new IllegalArgumentException("negative warmup, duration or maxOps");
            }
        }

        /** Measure for {@code duration} without warm-up or verification. */
        public static Options forDuration(Duration duration) {
            return new Options(Duration.ZERO, duration, 0, false);
        }

        /** Run exactly {@code maxOps} operations without warm-up or verification. */
        public static Options forOps(long maxOps) {
            return new Options(Duration.ZERO, null, maxOps, false);
        }
    }

    /**
     * Measured interval (warm-up excluded).
     *
     * @param ops          operations acknowledged in the interval
     * @param errors       connection failures in the interval (approximate at the edges)
     * @param reconnects   reconnects in the interval
     * @param elapsed      length of the interval
     * @param opsPerSecond throughput
     * @param latency      per-operation latency histogram of the interval
     * @param verification verification result, or null if not asked for
     */
    public record Report(long ops, long errors, long reconnects, Duration elapsed, double opsPerSecond,
            LatencyRecorder.Snapshot latency, VerificationResult verification) {

        /** One {@code key=value} line, stable for scripts: latencies in microseconds. */
        public String summaryLine() {
            StringBuilder sb = new StringBuilder(String.format(java.util.Locale.ROOT,
                    "ops=%d seconds=%.3f ops/s=%.1f p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f"
                            + " mean_us=%.1f errors=%d reconnects=%d",
                    ops, elapsed.toNanos() / 1e9, opsPerSecond, us(latency.percentileNanos(50)),
                    us(latency.percentileNanos(90)), us(latency.percentileNanos(99)),
                    us(latency.percentileNanos(99.9)), us(latency.maxNanos()), latency.meanNanos() / 1e3, errors,
                    reconnects));
            if (verification != null) {
                sb.append(" verify=").append(verification.ok() ? "ok" : "FAILED")
                        .append(" checked=").append(verification.checkedKeys())
                        .append(" missing=").append(verification.missingKeys())
                        .append(" invalid=").append(verification.invalidKeys());
            }
            return sb.toString();
        }

        private static double us(long nanos) {
            return nanos / 1e3;
        }
    }

    /** Runs {@code workload} settings under {@code options} and reports the measured interval. */
    public static Report run(KvWorkload.Config workload, Options options) throws InterruptedException {
        // the generator owns timing, so the workload itself is only bounded by the op count
        KvWorkload w = new KvWorkload(workload.withDuration(null).withMaxOps(options.maxOps()));
        try {
            LatencyRecorder.Snapshot lat0;
            KvWorkload.Progress p0;
            long t0;
            if (options.warmup().isZero()) {
                // measure from the very start: a baseline taken after start() would miss the first ops
                t0 = System.nanoTime();
                lat0 = new LatencyRecorder().snapshot();
                p0 = w.progress();
                w.start();
            } else {
                w.start();
                w.awaitTermination(options.warmup());
                lat0 = w.latency().snapshot();
                p0 = w.progress();
                t0 = System.nanoTime();
            }
            if (options.duration() == null) {
                while (!w.awaitTermination(Duration.ofSeconds(1))) {
                    // op-count bound: wait for the writers to use up the budget
                }
            } else {
                w.awaitTermination(options.duration());
            }
            long t1 = System.nanoTime();
            LatencyRecorder.Snapshot lat1 = w.latency().snapshot();
            KvWorkload.Progress p1 = w.progress();
            w.close();
            LatencyRecorder.Snapshot lat = lat1.minus(lat0);
            // every acknowledged op is recorded exactly once, so the histogram is the consistent op count
            // (the progress counters are read at slightly different instants while writers run)
            long ops = lat.count();
            Duration elapsed = Duration.ofNanos(t1 - t0);
            VerificationResult v = options.verify() ? w.verify(workload.target(), Duration.ofSeconds(30)) : null;
            return new Report(ops, p1.errors() - p0.errors(), p1.reconnects() - p0.reconnects(), elapsed,
                    elapsed.isZero() ? 0 : ops / (elapsed.toNanos() / 1e9), lat, v);
        } finally {
            w.close();
        }
    }
}
