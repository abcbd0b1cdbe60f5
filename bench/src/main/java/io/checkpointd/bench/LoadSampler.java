package io.checkpointd.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The 1-minute load average, sampled every second for the whole run. */
final class LoadSampler implements AutoCloseable {
    private final List<Double> samples = new ArrayList<>();
    private final String before = loadAverage();
    private String after;
    private final Thread thread;
    private volatile boolean stop;

    LoadSampler() {
        thread = new Thread(() -> {
            while (!stop) {
                double v = HostInfo.oneMinuteLoad(loadAverage());
                synchronized (samples) {
                    samples.add(v);
                }
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "loadavg");
        thread.setDaemon(true);
        thread.start();
    }

    @Override
    public void close() {
        stop = true;
        thread.interrupt();
        after = loadAverage();
    }

    double mean() {
        synchronized (samples) {
            return samples.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
        }
    }

    double max() {
        synchronized (samples) {
            return samples.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
        }
    }

    String describe() {
        return String.format(Locale.ROOT, "%s before, %s after; 1-minute average during the run %.2f mean, %.2f max", before, after,
                mean(), max());
    }

    private static String loadAverage() {
        return HostInfo.loadAverage();
    }
}
