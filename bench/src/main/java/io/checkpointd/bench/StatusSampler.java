package io.checkpointd.bench;

import io.checkpointd.bench.EngineBenchmark.Sample;
import io.checkpointd.protocol.status.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Polls the primary's status file every 3 ms and keeps one {@link Sample} per epoch (the windows' {@code last}),
 * for {@link EnginePair}; and the status fields' readers the engine benchmark shares.
 */
final class StatusSampler {
    final Path file;
    final List<Sample> samples = new ArrayList<>();
    final List<Double> acks = new ArrayList<>();
    long missed;
    volatile boolean running = true;
    Thread thread;

    StatusSampler(Path file) {
        this.file = file;
    }

    Json begin() throws IOException {
        Json first = readStatus(file);
        long[] prev = {(long) window(first, "pauseMs", "n"), (long) stat(first, "criuDumps"), (long) window(first, "ackMs", "n")};
        thread = new Thread(() -> {
            while (running) {
                try {
                    Json s = readStatus(file);
                    long n = (long) window(s, "pauseMs", "n");
                    long na = (long) window(s, "ackMs", "n");
                    if (na > prev[2]) {
                        synchronized (this) {
                            acks.add(window(s, "ackMs", "last"));
                        }
                        prev[2] = na;
                    }
                    if (n > prev[0]) {
                        long dumps = (long) stat(s, "criuDumps");
                        double[] ph = null;
                        if (s.get("engineStats") instanceof Json es && es.get("pausePhaseLastMs") instanceof Json last) {
                            ph = new double[EngineBenchmark.PHASES.length];
                            for (int i = 0; i < ph.length; i++) ph[i] = num(last.get(EngineBenchmark.PHASES[i]));
                        }
                        boolean dump = ph == null || dumps > prev[1];
                        synchronized (this) {
                            samples.add(new Sample(window(s, "pauseMs", "last"), window(s, "shippedRawBytes", "last"),
                                    window(s, "shippedWireBytes", "last"), dump, ph, tracker(s, "written-bytes")));
                            missed += n - prev[0] - 1;
                        }
                        prev[0] = n;
                        prev[1] = dumps;
                    }
                } catch (IOException | RuntimeException e) {
                    // being replaced: the next poll sees it
                }
                try {
                    Thread.sleep(3);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "status-sampler");
        thread.setDaemon(true);
        thread.start();
        return first;
    }

    Json end() throws IOException, InterruptedException {
        running = false;
        thread.join(2000);
        return readStatus(file);
    }

    synchronized List<Sample> samples() {
        return List.copyOf(samples);
    }

    synchronized double[] acks() {
        return acks.stream().mapToDouble(Double::doubleValue).toArray();
    }

    synchronized long missed() {
        return missed;
    }


    static Json readStatus(Path p) throws IOException {
        return (Json) Json.parse(Files.readString(p, StandardCharsets.UTF_8));
    }

    static double num(Object o) {
        return o instanceof Number n ? n.doubleValue() : 0;
    }

    static double window(Json s, String field, String key) {
        return s.get(field) instanceof Json w ? num(w.get(key)) : 0;
    }

    static double stat(Json s, String key) {
        return s.get("engineStats") instanceof Json es ? num(es.get(key)) : 0;
    }

    static double tracker(Json s, String key) {
        return s.get("engineStats") instanceof Json es && es.get("tracker") instanceof Json t ? num(t.get(key)) : 0;
    }
}
