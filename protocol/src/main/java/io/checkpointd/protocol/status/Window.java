package io.checkpointd.protocol.status;

import java.util.Arrays;
import java.util.function.DoubleConsumer;

/** The last {@code capacity} samples of one figure (pause, ack time, bytes), for last/p50/p99/max. Thread-safe. */
public final class Window {
    private final double[] ring;
    private int next;
    private long count;
    private double last;
    /** Also sees every sample (e.g. a metrics histogram), or null. */
    private volatile DoubleConsumer tap;

    public Window(int capacity) {
        ring = new double[capacity];
    }

    public void add(double v) {
        synchronized (this) {
            ring[next] = v;
            next = (next + 1) % ring.length;
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

    /** @param q in [0, 1]; nearest-rank percentile over the window, 0 when empty */
    public synchronized double percentile(double q) {
        int n = (int) Math.min(count, ring.length);
        if (n == 0) return 0;
        double[] s = Arrays.copyOf(ring, n);
        Arrays.sort(s);
        return rank(s, q);
    }

    /** {"last":…, "p50":…, "p99":…, "max":…, "n":…} */
    public Json summary() {
        double last;
        long n;
        double[] s;
        synchronized (this) { // one copy and sort for the three percentiles
            last = this.last;
            n = count;
            s = Arrays.copyOf(ring, (int) Math.min(count, ring.length));
        }
        Arrays.sort(s);
        return Json.object().put("last", round(last)).put("p50", round(rank(s, 0.5))).put("p99", round(rank(s, 0.99)))
                .put("max", round(rank(s, 1.0))).put("n", n);
    }

    /** Nearest-rank percentile {@code q} of sorted {@code s}, 0 when empty. */
    private static double rank(double[] s, double q) {
        if (s.length == 0) return 0;
        int idx = (int) Math.ceil(q * s.length) - 1;
        return s[Math.max(0, Math.min(s.length - 1, idx))];
    }

    private static double round(double v) {
        return Math.round(v * 1000.0) / 1000.0;
    }
}
