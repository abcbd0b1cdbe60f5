package io.checkpointd.bench;

import io.checkpointd.protocol.status.Json;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Per-epoch samples of the primary's status, taken only inside a measured interval.
 *
 * <p>The primary publishes its status after every epoch; each figure is a window of the last 1024 samples with
 * {@code last} and a count {@code n}. Those windows also hold the full sync and the warm-up, so their
 * percentiles are not the measured interval's. This sampler polls the status file faster than epochs end and
 * keeps {@code last} whenever {@code n} grew: one sample per epoch (or per ack). When {@code n} grew by more than
 * one between two polls the samples in between are missed; {@link #missed} counts them, so a report can say how
 * complete the sample is. Counts and totals (epochs, bytes) are exact: take them as differences of
 * {@link #read()} at both ends of the interval.
 */
final class PrimarySampler implements AutoCloseable {
    /** The windows sampled. */
    static final List<String> FIELDS = List.of("pauseMs", "ackMs", "capturedBytes", "shippedRawBytes", "shippedWireBytes");

    /** Reads the primary's latest status. */
    @FunctionalInterface
    interface Source {
        Optional<Json> read() throws IOException;
    }

    private final Source source;
    private final long pollNanos;
    private final Map<String, List<Double>> samples = new LinkedHashMap<>();
    private final Map<String, Long> lastCount = new LinkedHashMap<>();
    private final Map<String, Long> missed = new LinkedHashMap<>();
    /**
     * Per sampled pause, its phases ({@code engineStats.pausePhaseLastMs}, in {@code EngineStats.PHASES} order) with
     * the pause first: kept when exactly one epoch and one incremental pause ended since the last poll, so the two
     * belong to the same epoch.
     */
    private final List<double[]> pausePhases = new ArrayList<>();
    private long lastIncremental = -1;
    private final Thread thread;
    private volatile boolean recording;
    private volatile boolean closed;

    PrimarySampler(Source source, long pollMillis) {
        this.source = source;
        this.pollNanos = pollMillis * 1_000_000L;
        for (String f : FIELDS) {
            samples.put(f, new ArrayList<>());
            missed.put(f, 0L);
        }
        thread = new Thread(this::loop, "primary-sampler");
        thread.setDaemon(true);
        thread.start();
    }

    /** The status now (or an empty object when none could be read). */
    Json read() throws IOException {
        return source.read().orElse(Json.object());
    }

    /** Starts keeping samples (those that appear from now on). */
    void begin() {
        synchronized (this) {
            lastCount.clear(); // the first poll after begin() only sets the baseline
            lastIncremental = -1;
        }
        recording = true;
    }

    /** Stops keeping samples. */
    void end() {
        recording = false;
    }

    /** The samples of {@code field} kept between {@link #begin()} and {@link #end()}, sorted. */
    synchronized double[] sorted(String field) {
        double[] a = samples.get(field).stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(a);
        return a;
    }

    /**
     * The mean of each phase ({@code EngineStats.PHASES} order) over the sampled incremental pauses of at least
     * {@code minPauseMs}, and how many there were (last element): where the tail of the pause goes.
     */
    synchronized double[] meanPhases(double minPauseMs) {
        int k = io.checkpointd.primary.engine.status.EngineStats.PHASES.length;
        double[] sum = new double[k + 1];
        for (double[] row : pausePhases) {
            if (row[0] < minPauseMs) continue;
            for (int i = 0; i < k; i++) sum[i] += row[i + 1];
            sum[k]++;
        }
        for (int i = 0; i < k && sum[k] > 0; i++) sum[i] /= sum[k];
        return sum;
    }

    /** Samples of {@code field} that appeared but were overwritten before a poll saw them. */
    synchronized long missed(String field) {
        return missed.get(field);
    }

    private void loop() {
        while (!closed) {
            try {
                if (recording) poll();
            } catch (IOException | RuntimeException e) {
                // a half-written or vanished status file: the next poll sees the next one
            }
            try {
                Thread.sleep(pollNanos / 1_000_000L, (int) (pollNanos % 1_000_000L));
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private void poll() throws IOException {
        Optional<Json> s = source.read();
        if (s.isEmpty()) return;
        synchronized (this) {
            if (!recording) return;
            boolean onePause = false;
            for (String f : FIELDS) {
                if (!(s.get().get(f) instanceof Json w)) continue;
                long n = num(w.get("n")).longValue();
                Long prev = lastCount.put(f, n);
                if (prev == null || n <= prev) continue; // baseline, or nothing new
                samples.get(f).add(num(w.get("last")).doubleValue());
                if (n - prev > 1) missed.merge(f, n - prev - 1, Long::sum);
                if (f.equals("pauseMs") && n - prev == 1) onePause = true;
            }
            if (s.get().get("engineStats") instanceof Json e && e.get("pausePhaseLastMs") instanceof Json last) {
                long inc = num(e.get("incrementalEpochs")).longValue();
                if (onePause && lastIncremental >= 0 && inc == lastIncremental + 1) {
                    double[] row = new double[io.checkpointd.primary.engine.status.EngineStats.PHASES.length + 1];
                    row[0] = samples.get("pauseMs").get(samples.get("pauseMs").size() - 1);
                    for (int i = 1; i < row.length; i++) row[i] = num(last.get(io.checkpointd.primary.engine.status.EngineStats.PHASES[i - 1])).doubleValue();
                    pausePhases.add(row);
                }
                lastIncremental = inc;
            }
        }
    }

    static Number num(Object o) {
        return o instanceof Number n ? n : 0L;
    }

    /** {@code b[key] - a[key]}: a counter's growth between two status reads. */
    static long delta(Json a, Json b, String key) {
        return num(b.get(key)).longValue() - num(a.get(key)).longValue();
    }

    /** How many samples a status window ({@code pauseMs}, ...) has seen in all; 0 if absent. */
    static long windowCount(Json j, String window) {
        return j.get(window) instanceof Json w ? num(w.get("n")).longValue() : 0;
    }

    /** Nearest-rank percentile of sorted values, NaN when empty. */
    static double percentile(double[] sorted, double q) {
        if (sorted.length == 0) return Double.NaN;
        int idx = (int) Math.ceil(q * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, idx))];
    }

    static double mean(double[] values) {
        return values.length == 0 ? Double.NaN : Arrays.stream(values).average().orElse(Double.NaN);
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
        try {
            thread.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
