package io.checkpointd.bench;

import io.checkpointd.demo.Cluster;
import io.checkpointd.protocol.status.Json;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Each epoch's pause ({@code pauseMs.last}) as the primary's status shows it, polled every 3 ms for a while; epochs
 * whose pause was overwritten between two polls are counted as {@code missed}.
 *
 * @param sorted the pauses seen, ascending
 */
record PauseSamples(double[] sorted, long missed, double seconds) {

    /** Polls the primary's status for {@code seconds}, from the status {@code s0}. */
    static PauseSamples collect(Cluster c, Json s0, double seconds) throws IOException, InterruptedException {
        List<Double> pauses = new ArrayList<>();
        long lastN = PrimarySampler.windowCount(s0, "pauseMs"), missed = 0;
        long t0 = System.nanoTime(), end = t0 + (long) (seconds * 1e9);
        while (System.nanoTime() < end) {
            Json s = c.status("primary").orElse(null);
            if (s != null) {
                long n = PrimarySampler.windowCount(s, "pauseMs");
                if (n > lastN) {
                    missed += n - lastN - 1;
                    pauses.add(((Number) ((Json) s.get("pauseMs")).get("last")).doubleValue());
                    lastN = n;
                }
            }
            Thread.sleep(3);
        }
        return new PauseSamples(pauses.stream().mapToDouble(Double::doubleValue).sorted().toArray(), missed, (System.nanoTime() - t0) / 1e9);
    }

    /** Waits (at most {@code max}, then goes on) until the primary has {@code epochs} acknowledged epochs. */
    static void warmUp(Cluster c, long epochs, Duration max) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + max.toNanos();
        while (ackedEpoch(c) < epochs && System.nanoTime() < deadline) Thread.sleep(20);
    }

    private static long ackedEpoch(Cluster c) throws IOException {
        Json s = c.status("primary").orElse(null);
        return s == null || s.get("lastAckedEpoch") == null ? -1 : ((Number) s.get("lastAckedEpoch")).longValue();
    }

    /** CRIU dumps the primary took in all. */
    static long criuDumps(Json status) {
        return ((Number) ((Json) status.get("engineStats")).get("criuDumps")).longValue();
    }

    /** CRIU dumps by reason between two status reads, the reasons that grew only. */
    static Map<String, Long> dumpReasonsSince(Json s0, Json s1) {
        Map<String, Long> reasons = new TreeMap<>();
        Json r0 = (Json) ((Json) s0.get("engineStats")).get("criuDumpReasons"), r1 = (Json) ((Json) s1.get("engineStats")).get("criuDumpReasons");
        for (var e : r1.fields().entrySet()) {
            long before = r0.fields().containsKey(e.getKey()) ? ((Number) r0.fields().get(e.getKey())).longValue() : 0;
            long d = ((Number) e.getValue()).longValue() - before;
            if (d > 0) reasons.put(e.getKey(), d);
        }
        return reasons;
    }
}
