package io.checkpointd.bench;

import io.checkpointd.protocol.status.Json;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/** The console tables and the Markdown section of {@link ThroughputBenchmark}: figures, targets met or missed, why. */
final class ThroughputReport {
    private ThroughputReport() {
    }

    static String tables(List<ThroughputRun> runs, ThroughputBenchmark.Settings s) {
        StringBuilder sb = new StringBuilder();
        List<String[]> t = new ArrayList<>();
        t.add(new String[] {"load (conns × window)", "outstanding", "direct ops/s", "p50 ms", "p99 ms", "passthrough proxy ops/s",
                "p50 ms", "p99 ms", "protected ops/s", "p50 ms", "p99 ms", "protected / direct", "protected / passthrough"});
        for (PipelinedLoad.Level l : s.levels()) {
            ThroughputRun d = find(runs, "direct", l), p = find(runs, "proxy passthrough", l), q = find(runs, "protected", l);
            t.add(new String[] {l.toString(), String.valueOf(l.outstanding()), ops(d), ms(d, true), ms(d, false), ops(p), ms(p, true),
                    ms(p, false), ops(q), ms(q, true), ms(q, false), pct(q, d), pct(q, p)});
        }
        sb.append(Fmt.table(t)).append("\n\n");
        t = new ArrayList<>();
        t.add(new String[] {"protected, load", "epochs/s", "pause p50 ms", "pause p99 ms", "frozen", "ack p50 ms", "raw/epoch",
                "of which image files", "wire/epoch", "raw:wire", "incremental epochs", "CRIU dumps"});
        for (ThroughputRun r : runs) {
            if (!r.mode.startsWith("protected") || r.error != null) continue;
            t.add(new String[] {r.level.toString(), Fmt.fixed(r.epochsPerSecond, 1), Fmt.ms(r.pauseP50),
                    Fmt.ms(r.pauseP99), Fmt.fixed(100 * r.frozen, 0) + "%", Fmt.ms(r.ackP50),
                    Fmt.bytes(r.rawPerEpoch), Fmt.bytes(r.epochsShipped > 0 ? r.fileRaw / (double) r.epochsShipped : Double.NaN),
                    Fmt.bytes(r.wirePerEpoch), Fmt.fixed(r.ratio, 2) + ":1", String.valueOf(r.incrementalEpochs),
                    r.criuDumps + (r.dumpReasons.isEmpty() ? "" : " (" + r.dumpReasons + ")")});
        }
        sb.append(Fmt.table(t)).append("\n\n");
        t = new ArrayList<>();
        t.add(new String[] {"run", "load", "ops/s", "service", "proxy", "protect", "backup", "load gen", "machine (of 200%)",
                "others", "our CPU µs/op", "run-queue wait: service", "proxy", "protect", "backup"});
        for (ThroughputRun r : runs) {
            if (r.error != null) continue;
            t.add(new String[] {r.mode, r.level.toString(), Fmt.fixed(r.opsPerSecond, 0), cpu(r, "service"), cpu(r, "proxy"),
                    cpu(r, "protect"), cpu(r, "backup"), cpu(r, "load"), cpu(r, "machine"), cpu(r, "others"),
                    Fmt.fixed(r.cpuPerOpMicros(), 1), wait(r, "service"), wait(r, "proxy"), wait(r, "protect"), wait(r, "backup")});
        }
        sb.append(Fmt.table(t));
        for (ThroughputRun r : runs) if (r.error != null) sb.append("\n\n").append(r.mode).append(' ').append(r.level).append(" failed: ").append(r.error);
        return sb.toString();
    }

    static ThroughputRun find(List<ThroughputRun> runs, String modePrefix, PipelinedLoad.Level l) {
        return runs.stream().filter(r -> r.mode.startsWith(modePrefix) && r.level.equals(l)).findFirst().orElse(null);
    }

    private static String ops(ThroughputRun r) {
        return r == null ? "–" : r.error != null ? "failed" : Fmt.fixed(r.opsPerSecond, 0);
    }

    private static String ms(ThroughputRun r, boolean p50) {
        return r == null || r.error != null ? "–" : Fmt.ms(p50 ? r.p50Ms : r.p99Ms);
    }

    private static String pct(ThroughputRun a, ThroughputRun b) {
        if (a == null || b == null || a.error != null || b.error != null) return "–";
        return Fmt.fixed(100 * a.opsPerSecond / b.opsPerSecond, 0) + "%";
    }

    private static String wait(ThroughputRun r, String role) {
        return r.waitPct.containsKey(role) ? Fmt.fixed(r.waitPct.get(role), 0) + "%" : "–";
    }

    private static String cpu(ThroughputRun r, String role) {
        return r.cpu.containsKey(role) ? Fmt.fixed(r.cpu(role), 0) + "%" : "–";
    }

    static String section(ThroughputBenchmark.Settings s, String date, LoadSampler load, List<ThroughputRun> runs, String tables, Json initial, Json last,
                          List<ThroughputBenchmark.Probe> probes) {
        StringBuilder sb = new StringBuilder();
        sb.append(ThroughputBenchmark.BEGIN_MARKER).append("\n## Demo KV throughput under an open-window load (incremental engine)\n\n");
        sb.append("- Date: ").append(date).append('\n');
        sb.append("- Machine: ").append(HostInfo.machine()).append('\n');
        sb.append("- Load average: ").append(load.describe()).append(" (2 cores shared with other work)\n");
        sb.append("- Command: `").append(s.commandLine()).append('\n');
        sb.append(String.format(Locale.ROOT, "- Load: `PipelinedLoad`, C connections each keeping W PUTs outstanding (the KV protocol"
                + " answers in order, so requests are pipelined and matched by position), a new PUT sent as each reply arrives; key"
                + " `p<c>-k<i %% 100>`, value `i`. The same load three ways: *direct* (clients → service: the unprotected baseline),"
                + " *passthrough proxy* (clients → `checkpointd proxy --passthrough` → service: the extra hop alone, no output held,"
                + " no checkpoints) and *protected* (clients → proxy holding output → service, `protect --engine incremental"
                + " --epoch %d ms` → `backup`). One service for direct and passthrough, one cluster for every protected level;"
                + " %d s warm-up then %d s measured per run; everything on loopback on the same 2 cores.%n", s.epochMs(), s.warmup(), s.seconds()));
        sb.append("\n").append(tables).append("\n\n");
        sb.append("CPU columns are % of one core over the measured interval from `/proc/PID/stat` (service, proxy, protect, backup"
                + " processes; *load gen* is the generator's threads), *machine* all CPUs from `/proc/stat` (200% = both cores busy),"
                + " *others* machine minus ours (other people's work on the shared cores). *raw* is what the primary shipped"
                + " (pages and image files) before LZ4, *wire* after; *frozen* the share of wall time the service was stopped. *run-queue wait* is the time the process's threads were"
                + " runnable but waiting for a CPU (`/proc/PID/task/*/schedstat`, summed over threads, % of the interval; above 100%"
                + " when several threads wait at once).\n\n");
        sb.append(verdict(s, runs, initial, last, probes)).append('\n');
        sb.append(ThroughputBenchmark.END_MARKER).append('\n');
        return sb.toString();
    }

    /** Targets met or missed, by how much, and the numbers behind it. */
    static String verdict(ThroughputBenchmark.Settings s, List<ThroughputRun> runs, Json initial, Json last, List<ThroughputBenchmark.Probe> probes) {
        List<String> out = new ArrayList<>();
        List<ThroughputRun> prot = runs.stream().filter(r -> r.mode.startsWith("protected") && r.error == null).toList();
        List<ThroughputRun> direct = runs.stream().filter(r -> r.mode.equals("direct") && r.error == null).toList();
        if (prot.isEmpty() || direct.isEmpty()) return "Not enough runs completed to judge the targets.";
        ThroughputRun bestP = prot.stream().max(Comparator.comparingDouble(r -> r.opsPerSecond)).get();
        ThroughputRun bestD = direct.stream().max(Comparator.comparingDouble(r -> r.opsPerSecond)).get();
        ThroughputRun sameD = find(runs, "direct", bestP.level), sameT = find(runs, "proxy passthrough", bestP.level);
        // plateau: the smallest load that reaches 90% of the best protected throughput
        ThroughputRun plateau = prot.stream().filter(r -> r.opsPerSecond >= 0.9 * bestP.opsPerSecond)
                .min(Comparator.comparingInt(r -> r.level.outstanding())).get();
        double ratioSame = sameD != null && sameD.error == null ? bestP.opsPerSecond / sameD.opsPerSecond : Double.NaN;
        double ratioBest = bestP.opsPerSecond / bestD.opsPerSecond;
        int maxOutstanding = prot.stream().mapToInt(r -> r.level.outstanding()).max().getAsInt();
        String plateauText = plateau.level.outstanding() == maxOutstanding
                ? String.format(Locale.ROOT, "does not plateau within the loads tried: it still grows with the requests outstanding up to the"
                + " largest load (%s, %d outstanding)", plateau.level, maxOutstanding)
                : String.format(Locale.ROOT, "plateaus from %s (%d outstanding: %.0f ops/s, ≥ 90%% of the peak)", plateau.level,
                plateau.level.outstanding(), plateau.opsPerSecond);
        out.add(String.format(Locale.ROOT, "**Throughput target (protected ≥ 85%% of unprotected at %d ms epochs): %s.** Protected"
                        + " throughput peaks at %.0f ops/s (load %s, p50 %s ms, p99 %s ms) and %s; the same load direct gives %.0f ops/s,"
                        + " so protected is %.0f%% of unprotected (%s the target by %.0f points); against the best direct run (%.0f ops/s"
                        + " at %s) it is %.0f%%.",
                s.epochMs(), ratioSame >= ThroughputBenchmark.TPUT_TARGET ? "met" : "missed", bestP.opsPerSecond, bestP.level, Fmt.ms(bestP.p50Ms),
                Fmt.ms(bestP.p99Ms), plateauText, sameD == null ? Double.NaN : sameD.opsPerSecond, 100 * ratioSame,
                ratioSame >= ThroughputBenchmark.TPUT_TARGET ? "above" : "below", Math.abs(100 * (ratioSame - ThroughputBenchmark.TPUT_TARGET)), bestD.opsPerSecond, bestD.level,
                100 * ratioBest));
        if (sameT != null && sameT.error == null && sameD != null) {
            out.add(String.format(Locale.ROOT, "Where the difference goes, at load %s: the extra hop alone (passthrough proxy, nothing"
                            + " held) takes direct %.0f → %.0f ops/s (%.0f%%), and our processes' CPU per op goes from %s to %s µs (the"
                            + " proxy itself %.0f%% of a core); protecting takes it to %.0f ops/s (%.0f%% of passthrough), with the"
                            + " service frozen %.0f%% of the time (pause p50 %s ms, p99 %s ms at %.1f epochs/s), protect using %.0f%% and"
                            + " backup %.0f%% of a core; the machine was %.0f%% busy of 200%% (others' work %.0f%%) during that run.",
                    bestP.level, sameD.opsPerSecond, sameT.opsPerSecond, 100 * sameT.opsPerSecond / sameD.opsPerSecond,
                    Fmt.fixed(sameD.cpuPerOpMicros(), 1), Fmt.fixed(sameT.cpuPerOpMicros(), 1), sameT.cpu("proxy"),
                    bestP.opsPerSecond, 100 * bestP.opsPerSecond / sameT.opsPerSecond, 100 * bestP.frozen, Fmt.ms(bestP.pauseP50),
                    Fmt.ms(bestP.pauseP99), bestP.epochsPerSecond, bestP.cpu("protect"), bestP.cpu("backup"), bestP.cpu("machine"),
                    bestP.cpu("others")));
        }
        if (sameD != null && sameD.error == null) {
            double need = ThroughputBenchmark.TPUT_TARGET * sameD.opsPerSecond * bestP.p50Ms / 1000.0;
            double ideal = 2.0 * s.epochMs();
            double idealBound = bestP.level.outstanding() / (ideal / 1000.0);
            out.add(String.format(Locale.ROOT, "Protected, the load is latency-bound (Little's law: ops/s ≈ outstanding ÷ latency;"
                            + " %d ÷ %s ms p50 = %.0f/s, measured %.0f/s): each reply waits for its epoch's pause, shipping and ack,"
                            + " and epochs ran at %.1f/s instead of the %.0f/s asked for (pause p50 %s ms, ack p50 %s ms), so a reply"
                            + " waited %.1f epoch periods of %s ms. At that latency 85%% of direct (%.0f ops/s) would need ≈ %.0f"
                            + " requests outstanding, %.1f× this load's %d. Were epochs on time (%.0f/s, a reply released ≈ %s ms,"
                            + " 2 epochs, after its request), %d outstanding would allow up to %.0f ops/s (%.0f%% of direct) before"
                            + " the CPU bound: direct already keeps both cores busy (machine %.0f%% of 200%%, the service waiting"
                            + " for a CPU %.0f%% of the time summed over its threads), and protect, backup and the proxy need CPU"
                            + " from the same 2 cores.",
                    bestP.level.outstanding(), Fmt.ms(bestP.p50Ms), bestP.level.outstanding() / (bestP.p50Ms / 1000.0),
                    bestP.opsPerSecond, bestP.epochsPerSecond, 1000.0 / s.epochMs(), Fmt.ms(bestP.pauseP50),
                    Fmt.ms(bestP.ackP50), bestP.p50Ms * bestP.epochsPerSecond / 1000.0,
                    Fmt.fixed(1000.0 / bestP.epochsPerSecond, 0), ThroughputBenchmark.TPUT_TARGET * sameD.opsPerSecond, need,
                    need / bestP.level.outstanding(), bestP.level.outstanding(), 1000.0 / s.epochMs(), Fmt.fixed(ideal, 0),
                    bestP.level.outstanding(), idealBound, 100 * idealBound / sameD.opsPerSecond, sameD.cpu("machine"),
                    sameD.waitPct.getOrDefault("service", Double.NaN)));
            double phaseSum = 0;
            for (String part : bestP.phases.split(", ")) {
                String[] kv = part.split(" ");
                // the tracer thread's phases follow one another; the memory thread's (collect, present, copy) overlap them
                if (kv.length == 2 && EngineBenchmark.TRACER_PHASES.contains(kv[0])) {
                    try {
                        phaseSum += Double.parseDouble(kv[1]);
                    } catch (NumberFormatException e) {
                        // not a number: leave it out
                    }
                }
            }
            out.add(String.format(Locale.ROOT, "Why epochs are late: the engine's own pause work is small (its tracer thread's phases' p50s add up to %s ms"
                            + " against a measured pause p50 of %s ms), but protect's threads waited for a CPU %.0f%% and backup's %.0f%% of"
                            + " the time (summed over threads) while other work used %.0f%% of the 200%%: every step of the epoch chain"
                            + " (freeze, stop the threads, copy, ship, the backup's verify, fsync and ack, release) queues behind"
                            + " other runnable threads, and those waits add up to the %s ms period.",
                    Fmt.ms(phaseSum), Fmt.ms(bestP.pauseP50), bestP.waitPct.getOrDefault("protect", Double.NaN),
                    bestP.waitPct.getOrDefault("backup", Double.NaN), bestP.cpu("others"),
                    Fmt.fixed(1000.0 / bestP.epochsPerSecond, 0)));
            if (bestP.criuDumps > 0 || !bestP.phases.isEmpty()) {
                out.add(String.format(Locale.ROOT, "In that run the engine took %d incremental epochs and %d CRIU dumps (%s); its pause"
                        + " phases (p50, ms): %s.", bestP.incrementalEpochs, bestP.criuDumps, bestP.dumpReasons.isEmpty() ? "none"
                        : bestP.dumpReasons, bestP.phases));
            }
        }
        long rawSS = prot.stream().mapToLong(r -> r.raw).sum(), wireSS = prot.stream().mapToLong(r -> r.wire).sum();
        double ss = wireSS > 0 ? rawSS / (double) wireSS : Double.NaN;
        long rawAll = PrimarySampler.num(last.get("totalShippedRawBytes")).longValue(), wireAll = PrimarySampler.num(last.get("totalShippedWireBytes")).longValue();
        long rawInit = PrimarySampler.num(initial.get("totalShippedRawBytes")).longValue(), wireInit = PrimarySampler.num(initial.get("totalShippedWireBytes")).longValue();
        double minR = prot.stream().mapToDouble(r -> r.ratio).min().orElse(Double.NaN), maxR = prot.stream().mapToDouble(r -> r.ratio).max().orElse(Double.NaN);
        ThroughputRun demo = find(runs, "protected", s.levels().get(0));
        boolean haveDemo = demo != null && demo.error == null && demo.wire > 0;
        double judged = haveDemo ? demo.ratio : ss;
        out.add(String.format(Locale.ROOT, "\n\n**Compression target (checkpoint stream ≥ 5:1 on the demo workload): %s%s.**",
                judged >= ThroughputBenchmark.RATIO_TARGET ? "met" : "missed", haveDemo ? String.format(Locale.ROOT, " at the load closest to the demo's own"
                        + " workload (%s: %d outstanding PUTs, as `KvWorkload`'s %d synchronous clients): %.2f:1 in steady state (%s → %s),"
                        + " %s the target by %.0f%%", demo.level, demo.level.outstanding(), demo.level.connections(), demo.ratio,
                        Fmt.bytes(demo.raw), Fmt.bytes(demo.wire), demo.ratio >= ThroughputBenchmark.RATIO_TARGET ? "above" : "below",
                        Math.abs(100 * (demo.ratio / ThroughputBenchmark.RATIO_TARGET - 1))) : ""));
        out.add(String.format(Locale.ROOT, "Steady state over every protected run (their measured intervals, %d epochs, full sync"
                        + " excluded): %s raw → %s on the wire, %.2f:1 (%s–%s:1 per load level%s), %s 5:1 by %.0f%%."
                        + " Including the initial full sync (the first acknowledged epoch: %s → %s, %.1f:1) and every epoch of the"
                        + " cluster's life: %s → %s, %.2f:1. Image files are %.1f%% of the steady-state raw stream (*of which image"
                        + " files*), pages and record headers the rest.",
                prot.stream().mapToLong(r -> r.epochsShipped).sum(), Fmt.bytes(rawSS),
                Fmt.bytes(wireSS), ss, Fmt.fixed(minR, 2), Fmt.fixed(maxR, 2),
                prot.get(0).ratio > 1.05 * prot.get(prot.size() - 1).ratio ? ", falling as the load grows" : "",
                ss >= ThroughputBenchmark.RATIO_TARGET ? "above" : "below", Math.abs(100 * (ss / ThroughputBenchmark.RATIO_TARGET - 1)), Fmt.bytes(rawInit),
                Fmt.bytes(wireInit), wireInit > 0 ? rawInit / (double) wireInit : Double.NaN, Fmt.bytes(rawAll),
                Fmt.bytes(wireAll), wireAll > 0 ? rawAll / (double) wireAll : Double.NaN,
                rawSS > 0 ? 100.0 * prot.stream().mapToLong(r -> r.fileRaw).sum() / rawSS : Double.NaN));
        for (ThroughputBenchmark.Probe pr : probes) {
            XorProbe.Result probe = pr.result();
            if (probe == null) {
                out.add("The XOR probe under load " + pr.level() + " failed: " + pr.error() + ".");
                continue;
            }
            out.add(String.format(Locale.ROOT, "XOR before LZ4, measured offline under load %s (`XorProbe`: %d copies of the protected"
                            + " service's writable pages (at most 20 s of them), %d ms sleep between copies, %.0f ms between copies' ends on average, %.0f MB per"
                            + " copy; the pages whose bytes changed since the previous copy compressed in 1024-page records with the"
                            + " stream's LZ4): %d changed pages (%s) → LZ4 alone %s (%.2f:1), XOR with the page's previous version then LZ4"
                            + " %s (%.2f:1), ×%.2f; %.0f%% of the changed pages' bytes were unchanged (zero after the XOR). XOR only for"
                            + " pages with ≥ %.0f%% of their bytes unchanged (%d of the pages): %.2f:1; LZ4's high-compression mode: %.2f:1"
                            + " without XOR, %.2f:1 with the selective XOR.",
                    pr.level(), probe.epochs(), s.epochMs(), probe.meanGapMs(), probe.pagesScanned() * 4096.0 / (probe.epochs() + 1) / 1e6,
                    probe.changedPages(), Fmt.bytes(probe.rawBytes()), Fmt.bytes(probe.plainWire()), probe.plainRatio(),
                    Fmt.bytes(probe.xorWire()), probe.xorRatio(), probe.xorRatio() / probe.plainRatio(),
                    100 * probe.unchangedByteShare(), 100 * XorProbe.ADAPTIVE_MIN_UNCHANGED, probe.adaptiveXorPages(),
                    probe.adaptiveRatio(), probe.hcRatio(), probe.adaptiveHcRatio()));
        }
        return String.join(" ", out);
    }
}
