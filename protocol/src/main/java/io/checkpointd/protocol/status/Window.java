package io.checkpointd.protocol.status;

import java.util.function.DoubleConsumer;
import org.HdrHistogram.DoubleHistogram;

/**
 * The recent samples of one figure (pause, ack time, bytes), for last/p50/p99/max, kept in HdrHistogram's
 * {@link DoubleHistogram} (3 significant digits): samples go into a current histogram, which becomes the previous
 * one after {@code capacity} samples, and percentiles are over both, so they cover the last {@code capacity} to
 * {@code 2 * capacity} samples. Thread-safe; negative samples count as 0.
 */
public final class Window {
    private static final int DIGITS = 3;
    private final int capacity;
    private DoubleHistogram current = new DoubleHistogram(DIGITS), previous;
    private long count;
    private double last;
    /** Also sees every sample (e.g. a metrics histogram), or null. */
    private volatile DoubleConsumer tap;

    public Window(int capacity) {
        if (capacity < 1) throw new IllegalArgumentException("capacity must be >= 1: " + capacity);
        this.capacity = capacity;
    }

    public void add(double v) {
        synchronized (this) {
            if (current.getTotalCount() >= capacity) {
                previous = current;
                current = new DoubleHistogram(DIGITS);
            }
            current.recordValue(Double.isFinite(v) ? Math.max(0, v) : 0);
            count++;
            last = v;
        }
        DoubleConsumer t = tap;
        if (t != null) t.accept(v);
    }

    /** Hands every later sample to {@code t} as well, in the window's unit (replaces an earlier tap). */
    public void tap(DoubleConsumer t) {
        tap = t;
    }

    public synchronized long count() {
        return count;
    }

    public synchronized double last() {
        return last;
    }

    /** @param q in [0, 1]; the value at that quantile of the recent samples (to 3 significant digits), 0 when empty */
    public synchronized double percentile(double q) {
        if (count == 0) return 0;
        DoubleHistogram h = recent();
        return q >= 1.0 ? h.getMaxValue() : h.getValueAtPercentile(Math.max(0, q) * 100.0);
    }

    /** {"last":…, "p50":…, "p99":…, "max":…, "n":…} */
    public Json summary() {
        double lastV, p50, p99, max;
        long n;
        synchronized (this) {
            DoubleHistogram h = count == 0 ? null : recent();
            lastV = last;
            p50 = h == null ? 0 : h.getValueAtPercentile(50);
            p99 = h == null ? 0 : h.getValueAtPercentile(99);
            max = h == null ? 0 : h.getMaxValue();
            n = count;
        }
        return Json.object().put("last", round(lastV)).put("p50", round(p50)).put("p99", round(p99)).put("max", round(max)).put("n", n);
    }

    private DoubleHistogram recent() {
        if (previous == null) return current;
        // a fresh auto-resizing histogram: copy() keeps the source's covered range and does not resize, so adding
        // the current samples to a copy of the previous ones fails once they reach past that range
        DoubleHistogram h = new DoubleHistogram(DIGITS);
        h.add(previous);
        h.add(current);
        return h;
    }

    private static double round(double v) {
        return Math.round(v * 1000.0) / 1000.0;
    }
}
