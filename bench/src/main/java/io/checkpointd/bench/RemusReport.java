package io.checkpointd.bench;

import static io.checkpointd.bench.Fmt.bytes;
import static io.checkpointd.bench.Fmt.fixed;
import static io.checkpointd.bench.Fmt.ms;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/** The console table and the Markdown section of {@link RemusBenchmark}: figures, and what they say. */
final class RemusReport {
    private RemusReport() {
    }

    static String table(List<RemusBenchmark.Row> rows, int clients) {
        List<String[]> cells = new ArrayList<>();
        cells.add(new String[] {"configuration", "ops/s", "lat p50 ms", "lat p99 ms", "epochs/s", "period ms", "pause p50 ms",
                "pause p99 ms", "frozen", "image/epoch", "raw/epoch", "wire/epoch", "ratio", "ack p50 ms", "ack p99 ms",
                "bound ops/s", "lat/period"});
        for (RemusBenchmark.Row r : rows) {
            if (r.error != null) {
                String[] c = new String[17];
                java.util.Arrays.fill(c, "");
                c[0] = r.label;
                c[1] = "failed";
                cells.add(c);
                continue;
            }
            boolean p = r.epochMs != null;
            cells.add(new String[] {r.label + (r.note != null ? " (*)" : ""), String.format(Locale.ROOT, "%.0f", r.opsPerSecond),
                    ms(r.latP50Ms), ms(r.latP99Ms),
                    p ? String.format(Locale.ROOT, "%.1f", r.epochsPerSecond) : "–", p ? fixed(r.periodMs(), 0) : "–",
                    p ? ms(r.pauseP50) : "–", p ? ms(r.pauseP99) : "–",
                    p ? String.format(Locale.ROOT, "%.0f%%", 100 * r.frozenFraction) : "–",
                    p ? bytes(r.imageBytes) : "–", p ? bytes(r.rawPerEpoch) : "–", p ? bytes(r.wirePerEpoch) : "–",
                    p ? fixed(r.ratio, 1) + ":1" : "–", p ? ms(r.ackP50) : "–", p ? ms(r.ackP99) : "–",
                    p ? fixed(clients * r.epochsPerSecond, 0) : "–", p ? fixed(r.latP50Ms / r.periodMs(), 1) : "–"});
        }
        StringBuilder sb = new StringBuilder(Fmt.table(cells)).append('\n');
        for (RemusBenchmark.Row r : rows) {
            if (r.error != null) sb.append("\n").append(r.label).append(" failed: ").append(r.error);
            else if (r.note != null) sb.append("\n(*) ").append(r.label).append(": ").append(r.note);
        }
        return sb.toString().stripTrailing();
    }

    static String section(RemusBenchmark.Settings s, String date, String loadBefore, String loadAfter, String table, List<RemusBenchmark.Row> rows) {
        StringBuilder sb = new StringBuilder();
        sb.append(RemusBenchmark.BEGIN_MARKER).append("\n## Remus loop (full CRIU dump engine)\n\n");
        sb.append("- Date: ").append(date).append('\n');
        sb.append("- Machine: ").append(HostInfo.machine()).append("; load average ").append(loadBefore).append(" before the run, ")
                .append(loadAfter).append(" after (a shared machine: other work ran on the same cores)\n");
        sb.append("- Command: `").append(s.commandLine()).append('\n');
        sb.append(String.format(Locale.ROOT, "- Workload: %d synchronous client threads (`KvWorkload`: each PUTs a key and waits for"
                + " the reply before the next), %d s warm-up then %d s measured per configuration; a fresh service, and for"
                + " protected rows a fresh `backup` + `proxy` + `protect` cluster, per configuration; all on loopback.%n",
                s.clients(), s.warmupSeconds(), s.seconds()));
        sb.append("\n").append(table).append("\n\n");
        sb.append("Columns: *ops/s* acknowledged PUTs per second; *lat* per-PUT latency seen by a client; *epochs/s* epochs"
                + " acknowledged by the backup per second and *period* its inverse; *pause* how long the service was frozen per"
                + " epoch (freeze, seal the proxy's output, `criu dump --leave-running`, thaw); *frozen* share of wall time"
                + " the service was frozen; *image* the CRIU image dumped per epoch; *raw* the delta shipped per epoch (changed"
                + " pages and image files against the previous epoch) and *wire* the same after LZ4, *ratio* raw/wire; *ack* time"
                + " from the end of shipping to the backup's acknowledgement; *bound* clients × epochs/s (a synchronous client"
                + " completes at most one request per acknowledged epoch); *lat/period* p50 latency in epoch periods."
                + " Pause and ack percentiles are per-epoch samples of the measured interval only (the primary's own status"
                + " windows also hold the full sync and warm-up); epochs and bytes are exact differences over the interval.\n\n");
        sb.append(interpretation(s, rows, loadBefore, loadAfter)).append('\n');
        sb.append(RemusBenchmark.END_MARKER).append('\n');
        return sb.toString();
    }

    /** 3-6 sentences, each stated only when the figures support it. */
    static String interpretation(RemusBenchmark.Settings s, List<RemusBenchmark.Row> rows, String loadBefore, String loadAfter) {
        RemusBenchmark.Row base = rows.stream().filter(r -> r.epochMs == null && r.error == null).findFirst().orElse(null);
        List<RemusBenchmark.Row> prot = rows.stream().filter(r -> r.epochMs != null && r.error == null && r.epochsAcked > 0).toList();
        if (base == null || prot.isEmpty()) return "Not enough configurations completed to interpret this run.";
        RemusBenchmark.Row best = prot.stream().max(Comparator.comparingDouble(r -> r.opsPerSecond)).get();
        RemusBenchmark.Row shortest = prot.stream().min(Comparator.comparingInt(r -> r.epochMs)).get();
        RemusBenchmark.Row longest = prot.stream().max(Comparator.comparingInt(r -> r.epochMs)).get();
        List<String> out = new ArrayList<>();
        out.add(String.format(Locale.ROOT, "Unprotected, %d synchronous clients reach %.0f ops/s at a p50 latency of %s ms; protected,"
                        + " the best configuration (epoch %d ms) reaches %.0f ops/s at p50 %s ms, about %.0f× less throughput.",
                s.clients(), base.opsPerSecond, ms(base.latP50Ms), best.epochMs, best.opsPerSecond, ms(best.latP50Ms),
                base.opsPerSecond / Math.max(best.opsPerSecond, 1e-9)));
        java.util.Map<Long, List<RemusBenchmark.Row>> byK = new java.util.TreeMap<>(prot.stream().collect(Collectors.groupingBy(RemusBenchmark.Row::periodsPerRequest)));
        String ks = byK.entrySet().stream().map(en -> "k = " + en.getKey() + " at " + en.getValue().stream()
                .map(r -> r.epochMs + "").collect(Collectors.joining(", ")) + " ms").collect(Collectors.joining(", "));
        double quantErr = prot.stream().mapToDouble(r -> Math.abs(r.opsPerSecond / r.quantizedModelOpsPerSecond(s.clients()) - 1)).max().orElse(1);
        double simpleErr = prot.stream().mapToDouble(r -> Math.abs(r.opsPerSecond / r.simpleModelOpsPerSecond(s.clients()) - 1)).max().orElse(1);
        String lead = "That gap is output commit, as in Remus: the proxy holds every reply until its epoch is acknowledged by"
                + " the backup, so a synchronous client completes at most one request per acknowledged epoch (*bound*), and in"
                + " fact one per k epoch periods, k being the time from the freeze that seals its reply to that epoch's release"
                + " (pause + shipping + ack) rounded up to whole periods";
        if (quantErr <= 0.2) {
            out.add(String.format(Locale.ROOT, "%s (%s; *lat/period*); clients × epochs/s ÷ k is within %.0f%% of the measured rate"
                    + " for every row, while the simpler clients / (period + pause + ack) is off by up to %.0f%%.", lead, ks,
                    100 * quantErr, 100 * simpleErr));
        } else {
            out.add(String.format(Locale.ROOT, "%s (*lat/period*: %s–%s here); with periods this irregular (pause p99 up to %s ms)"
                            + " neither clients × epochs/s ÷ k nor the simpler clients / (period + pause + ack) fits every row"
                            + " (off by up to %.0f%% and %.0f%%).", lead, fixed(min(prot, r -> r.latP50Ms / r.periodMs()), 1),
                    fixed(max(prot, r -> r.latP50Ms / r.periodMs()), 1), ms(max(prot, r -> r.pauseP99)), 100 * quantErr, 100 * simpleErr));
        }
        double pMin = prot.stream().mapToDouble(r -> r.pauseP50).min().orElse(Double.NaN);
        double pMax = prot.stream().mapToDouble(r -> r.pauseP50).max().orElse(Double.NaN);
        List<RemusBenchmark.Row> backToBack = prot.stream().filter(RemusBenchmark.Row::backToBack).toList();
        String pauseSentence = String.format(Locale.ROOT, "The full-dump engine freezes the service for %s–%s ms per epoch (p50) to"
                + " dump a %s image whole, however little changed", ms(pMin), ms(pMax), bytes(shortest.imageBytes));
        if (!backToBack.isEmpty()) {
            pauseSentence += String.format(Locale.ROOT, ", so epochs of %s ms cannot be honoured: they run back to back (%s of %s ms)"
                            + " and the service is frozen %s of the time",
                    words(backToBack.stream().map(r -> String.valueOf(r.epochMs)).toList()),
                    backToBack.size() == 1 ? "a period" : "periods",
                    words(backToBack.stream().map(r -> fixed(r.periodMs(), 0)).toList()),
                    words(backToBack.stream().map(r -> String.format(Locale.ROOT, "%.0f%%", 100 * r.frozenFraction)).toList()));
            pauseSentence += String.format(Locale.ROOT, "; the rest of each period (period − mean pause ≈ %s ms) is the primary's"
                            + " own work between dumps (computing the delta against the previous image, shipping it, deleting the"
                            + " old image), which its epoch loop finishes before it may freeze again",
                    words(backToBack.stream().map(r -> fixed(r.periodMs() - r.pauseMean, 0)).toList()));
        }
        out.add(pauseSentence + ".");
        if (shortest != longest) {
            double ratio = shortest.opsPerSecond / Math.max(longest.opsPerSecond, 1e-9);
            String verb = ratio > 1.1 ? "raises" : ratio < 0.9 ? "lowers" : "barely changes";
            boolean dumpBound = shortest.backToBack();
            out.add(String.format(Locale.ROOT, "Shortening the epoch from %d to %d ms %s throughput (%.0f → %.0f ops/s) and moves p50 latency"
                            + " from %s to %s ms%s.",
                    longest.epochMs, shortest.epochMs, verb, longest.opsPerSecond, shortest.opsPerSecond, ms(longest.latP50Ms),
                    ms(shortest.latP50Ms), dumpBound ? "; below the pause the cycle is set by the dump, not by the epoch setting" : ""));
        }
        double ackMax = max(prot, r -> r.ackP50);
        out.add(String.format(Locale.ROOT, "Each epoch ships %s–%s of delta (%s–%s after LZ4, ratio %s–%s:1) and the backup acknowledges"
                        + " it in %s–%s ms (p50)%s",
                bytes(min(prot, r -> r.rawPerEpoch)), bytes(max(prot, r -> r.rawPerEpoch)), bytes(min(prot, r -> r.wirePerEpoch)),
                bytes(max(prot, r -> r.wirePerEpoch)), fixed(min(prot, r -> r.ratio), 1), fixed(max(prot, r -> r.ratio), 1),
                ms(min(prot, r -> r.ackP50)), ms(ackMax),
                ackMax < 0.5 * pMin ? ", so the pause, not shipping or the backup, dominates the cycle; a dirty-page tracking engine"
                        + " that copies only written pages is what would shrink it."
                        : ", comparable to the pause: shipping and the backup's ack are part of the bottleneck too."));
        int cores = Runtime.getRuntime().availableProcessors();
        double l0 = HostInfo.oneMinuteLoad(loadBefore), l1 = HostInfo.oneMinuteLoad(loadAfter);
        if (Math.max(l0, l1) > cores) {
            out.add(String.format(Locale.ROOT, "The machine was shared (1-minute load average %s before and %s after the run on %d cores),"
                            + " so part of the differences between protected rows (pause p50 %s–%s ms for the same image size) can"
                            + " be contention rather than the epoch setting; rerun to see the spread.",
                    fixed(l0, 1), fixed(l1, 1), cores, ms(pMin), ms(pMax)));
        }
        return String.join(" ", out);
    }

    /** "a", "a and b", "a, b and c". */
    static String words(List<String> items) {
        if (items.size() <= 1) return String.join("", items);
        return String.join(", ", items.subList(0, items.size() - 1)) + " and " + items.get(items.size() - 1);
    }

    private static double min(List<RemusBenchmark.Row> rows, java.util.function.ToDoubleFunction<RemusBenchmark.Row> f) {
        return rows.stream().mapToDouble(f).filter(d -> !Double.isNaN(d)).min().orElse(Double.NaN);
    }

    private static double max(List<RemusBenchmark.Row> rows, java.util.function.ToDoubleFunction<RemusBenchmark.Row> f) {
        return rows.stream().mapToDouble(f).filter(d -> !Double.isNaN(d)).max().orElse(Double.NaN);
    }
}
