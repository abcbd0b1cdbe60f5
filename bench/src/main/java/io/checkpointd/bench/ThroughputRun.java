package io.checkpointd.bench;

import static io.checkpointd.bench.Fmt.say;

import io.checkpointd.demo.LatencyRecorder;
import io.checkpointd.protocol.status.Json;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * One measured interval of {@link ThroughputBenchmark} (a mode at a load level) and how it is measured: client
 * throughput and latency from {@link PipelinedLoad}, CPU and run-queue wait per process ({@link CpuTimes}), and for
 * protected runs the primary's epochs, pauses and bytes ({@link PrimarySampler}).
 */
final class ThroughputRun {
    String mode;
    PipelinedLoad.Level level;
    double seconds, opsPerSecond = Double.NaN, p50Ms = Double.NaN, p99Ms = Double.NaN;
    long ops, errors, rejected;
    /** CPU, % of one core, by role; "machine" is every process on the machine, "others" what is not ours. */
    final Map<String, Double> cpu = new LinkedHashMap<>();
    /** Time the role's threads spent runnable but waiting for a CPU, % of the interval (summed over threads). */
    final Map<String, Double> waitPct = new LinkedHashMap<>();
    // protected only
    double epochsPerSecond = Double.NaN, pauseP50 = Double.NaN, pauseP99 = Double.NaN, pauseMean = Double.NaN, frozen = Double.NaN;
    double ackP50 = Double.NaN, rawPerEpoch = Double.NaN, wirePerEpoch = Double.NaN, ratio = Double.NaN;
    long raw, wire, fileRaw, epochsShipped, criuDumps, incrementalEpochs;
    /** CRIU dumps by reason over the interval, and the engine's pause phases (p50 of its window, ms) at its end. */
    String dumpReasons = "", phases = "";
    String error;

    double cpu(String role) {
        return cpu.getOrDefault(role, Double.NaN);
    }

    /** CPU of our processes per acknowledged op, µs. */
    double cpuPerOpMicros() {
        double ours = cpu.entrySet().stream().filter(e -> !e.getKey().equals("machine") && !e.getKey().equals("others"))
                .mapToDouble(Map.Entry::getValue).sum();
        return ours / 100.0 * 1e6 / opsPerSecond;
    }

    static ThroughputRun measure(ThroughputBenchmark.Settings s, String mode, PipelinedLoad.Level level, InetSocketAddress target, Map<String, Long> pids,
                               PrimarySampler sampler) {
        ThroughputRun r = new ThroughputRun();
        r.mode = mode;
        r.level = level;
        say("%-20s %-8s (%d outstanding) ...", mode, level, level.outstanding());
        try (PipelinedLoad load = PipelinedLoad.start(target, level)) {
            Thread.sleep(s.warmup() * 1000L);
            Json s0 = sampler == null ? null : sampler.read();
            if (sampler != null) sampler.begin();
            Map<String, Long> cpu0 = CpuTimes.cpuTicks(pids), wait0 = CpuTimes.waitNanos(pids);
            long self0 = load.cpuNanos(), mach0 = CpuTimes.machineBusyTicks();
            LatencyRecorder.Snapshot l0 = load.latency().snapshot();
            long e0 = load.errors(), j0 = load.rejected();
            long t0 = System.nanoTime();
            Thread.sleep(s.seconds() * 1000L);
            LatencyRecorder.Snapshot l1 = load.latency().snapshot();
            long t1 = System.nanoTime();
            Map<String, Long> cpu1 = CpuTimes.cpuTicks(pids), wait1 = CpuTimes.waitNanos(pids);
            long self1 = load.cpuNanos(), mach1 = CpuTimes.machineBusyTicks();
            r.errors = load.errors() - e0;
            r.rejected = load.rejected() - j0;
            Json s1 = null;
            if (sampler != null) {
                sampler.end();
                s1 = sampler.read();
            }
            r.seconds = (t1 - t0) / 1e9;
            LatencyRecorder.Snapshot lat = l1.minus(l0);
            r.ops = lat.count();
            r.opsPerSecond = r.ops / r.seconds;
            r.p50Ms = lat.percentileNanos(50) / 1e6;
            r.p99Ms = lat.percentileNanos(99) / 1e6;
            double ours = 0;
            for (String role : pids.keySet()) {
                double pct = 100.0 * (cpu1.get(role) - cpu0.get(role)) / CpuTimes.TICKS / r.seconds;
                r.cpu.put(role, pct);
                r.waitPct.put(role, 100.0 * (wait1.get(role) - wait0.get(role)) / 1e9 / r.seconds);
                ours += pct;
            }
            double gen = 100.0 * (self1 - self0) / 1e9 / r.seconds;
            r.cpu.put("load", gen);
            ours += gen;
            double machine = 100.0 * (mach1 - mach0) / CpuTimes.TICKS / r.seconds;
            r.cpu.put("machine", machine);
            r.cpu.put("others", Math.max(0, machine - ours));
            if (sampler != null) primaryFigures(r, sampler, s0, s1);
            if (r.errors > 0 || r.rejected > 0) r.error = r.errors + " connection errors, " + r.rejected + " rejected PUTs";
        } catch (Exception e) {
            r.error = Fmt.oneLine(e);
        }
        if (r.error != null) say("      FAILED: %s", r.error);
        else {
            say("      %.0f ops/s, p50 %s ms, p99 %s ms; CPU %s; waiting for a CPU %s%s", r.opsPerSecond, Fmt.ms(r.p50Ms), Fmt.ms(r.p99Ms),
                    r.cpu.entrySet().stream().map(e -> e.getKey() + " " + Math.round(e.getValue()) + "%").collect(Collectors.joining(", ")),
                    r.waitPct.entrySet().stream().map(e -> e.getKey() + " " + Math.round(e.getValue()) + "%").collect(Collectors.joining(", ")),
                    sampler == null ? "" : String.format(Locale.ROOT, "; %.1f epochs/s, pause p50 %s p99 %s ms, frozen %.0f%%, ack p50 %s ms,"
                                    + " ratio %s:1; %d incremental epochs, %d CRIU dumps (%s); phases p50 %s",
                            r.epochsPerSecond, Fmt.ms(r.pauseP50), Fmt.ms(r.pauseP99), 100 * r.frozen,
                            Fmt.ms(r.ackP50), Fmt.fixed(r.ratio, 2), r.incrementalEpochs, r.criuDumps, r.dumpReasons, r.phases));
        }
        return r;
    }

    private static void primaryFigures(ThroughputRun r, PrimarySampler sampler, Json s0, Json s1) {
        long acked = PrimarySampler.delta(s0, s1, "epochsAcked");
        r.epochsPerSecond = acked / r.seconds;
        r.epochsShipped = PrimarySampler.windowCount(s1, "pauseMs") - PrimarySampler.windowCount(s0, "pauseMs");
        r.raw = PrimarySampler.delta(s0, s1, "totalShippedRawBytes");
        r.wire = PrimarySampler.delta(s0, s1, "totalShippedWireBytes");
        r.fileRaw = s1.get("totalShippedFileBytes") == null ? 0 : PrimarySampler.delta(s0, s1, "totalShippedFileBytes");
        if (r.epochsShipped > 0) {
            r.rawPerEpoch = r.raw / (double) r.epochsShipped;
            r.wirePerEpoch = r.wire / (double) r.epochsShipped;
        }
        if (r.wire > 0) r.ratio = r.raw / (double) r.wire;
        double[] pause = sampler.sorted("pauseMs");
        r.pauseP50 = PrimarySampler.percentile(pause, 0.5);
        r.pauseP99 = PrimarySampler.percentile(pause, 0.99);
        r.pauseMean = PrimarySampler.mean(pause);
        r.frozen = r.pauseMean * r.epochsShipped / (r.seconds * 1000.0);
        r.ackP50 = PrimarySampler.percentile(sampler.sorted("ackMs"), 0.5);
        if (s0.get("engineStats") instanceof Json e0 && s1.get("engineStats") instanceof Json e1) {
            r.criuDumps = PrimarySampler.delta(e0, e1, "criuDumps");
            r.incrementalEpochs = PrimarySampler.delta(e0, e1, "incrementalEpochs");
            if (e0.get("criuDumpReasons") instanceof Json d0 && e1.get("criuDumpReasons") instanceof Json d1) {
                List<String> rs = new ArrayList<>();
                for (String k : d1.fields().keySet()) {
                    long n = PrimarySampler.num(d1.get(k)).longValue() - (d0.get(k) == null ? 0 : PrimarySampler.num(d0.get(k)).longValue());
                    if (n > 0) rs.add(k + " " + n);
                }
                r.dumpReasons = String.join(", ", rs);
            }
            if (e1.get("pausePhaseP50Ms") instanceof Json ph) {
                r.phases = ph.fields().keySet().stream().map(k -> k + " " + ph.get(k)).collect(Collectors.joining(", "));
            }
        }
    }
}
