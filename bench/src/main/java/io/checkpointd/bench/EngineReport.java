package io.checkpointd.bench;

import io.checkpointd.bench.EngineBenchmark.FloorRun;
import io.checkpointd.bench.EngineBenchmark.Run;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The Markdown section of {@link EngineBenchmark}: every figure, the targets met or missed, what stands in the way. */
final class EngineReport {
    private EngineReport() {
    }

    static String section(EngineBenchmark.Options o, int threads, String rss, List<FloorRun> floors, List<Run> inc, Run inc25,
                          List<Run> full, String loadBefore, String loadAfter, List<Double> loads, double minutes, String svg,
                          List<String> syncs, List<String> notes) {
        Run i100 = at(inc, EngineBenchmark.TARGET_MIBS), f100 = at(full, EngineBenchmark.TARGET_MIBS);
        FloorRun fl100 = floors.stream().filter(f -> f.periodMs() == 100 && f.rateMiBs() == EngineBenchmark.TARGET_MIBS).findFirst().orElseThrow();
        FloorRun fl25 = floors.stream().filter(f -> f.periodMs() == 25).findFirst().orElseThrow();
        double[] l = loads.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        StringBuilder b = new StringBuilder();
        b.append("## Incremental engine vs. full CRIU dump (issue 4 benchmark)" + (o.tag().isEmpty() ? "" : ", run `" + o.tag() + "`") + "\n\n");
        b.append(f("- Date: %s; one run of %.1f min.%n", EngineBenchmark.now(), minutes));
        b.append(f("- Machine: %s. Load average %s before the run, %s after; the 1-minute load sampled every 2 s during the run: min %.2f, median %.2f, max %.2f (%d samples). Shared with other engineers' jobs: *CPU wait* below is `/proc/pressure/cpu` \"some\" over each measured interval, the share of time at least one runnable task waited for a CPU.%n",
                HostInfo.machine(), loadBefore, loadAfter, EngineBenchmark.pct(l, 0), EngineBenchmark.pct(l, 0.5),
                EngineBenchmark.pct(l, 1), l.length));
        b.append(f("- Command: `bin/checkpointd-bench-engine` (`io.checkpointd.bench.EngineBenchmark`; options in effect: `--rates %s --seconds %s --sweep-seconds %s --warmup %s --seconds-25 %s --full-epochs %d --full-epochs-target %d --floor-epochs %d --floor-epochs-25 %d --max-in-flight %d`).%n",
                String.join(",", o.rates().stream().map(EngineReport::num).toList()), num(o.seconds()), num(o.sweepSeconds()),
                num(o.warmup()), num(o.seconds25()), o.fullEpochs(), o.fullEpochsTarget(), o.floorEpochs(), o.floorEpochs25(), o.maxInFlight()));
        b.append(f("- Protected process, one for the whole run: `DirtyingWorkload` (`%s`, `setsid`, stdio on /dev/null), %d MB of live random `long[]` data, %d writer threads (%d threads in all), RSS %s; each writer ticks every 5 ms and writes one long at a random page, the total rate set through a file the workload re-reads every 50 ms, so every engine and the floor see the same heap. The issue's rate is %s MiB/s (4 MiB per 100 ms).%n",
                String.join(" ", IncrementalFloorBenchmark.WORKLOAD_JVM_ARGS), o.liveMb(), o.threads(), threads, rss, num(EngineBenchmark.TARGET_MIBS)));
        b.append("- Engines: a real `checkpointd backup` (store in /dev/shm, loopback, authenticated) and `checkpointd protect --engine incremental|full --epoch T --tracker auto` (no proxy: output commit is not part of the pause measured here), daemon JVMs with `" + String.join(" ", o.daemonJvmArgs()) + "` (`bin/checkpointd` runs daemons with `-XX:+UseSerialGC` and the full JIT; one-shot commands C1-only). Order: the floor (the harness's own uffd-wp tracker; it must go first, a range is registered with one userfaultfd at a time); incremental at 100 ms with the dirty rate swept on the same primary (ascending, at least 3 epochs of warm-up per rate; the issue's rate measured longest); a fresh pair at 25 ms; a fresh pair with the full engine, a few epochs per rate. Each pair starts with its full sync (a CRIU dump), not counted.\n");
        if (o.maxInFlight() != 2) {
            b.append(f("- `protect --max-in-flight %d` (its default is 2): with 2, whenever the backup commits an epoch more slowly than the epoch period the primary's next freeze waits for an ack, so pause and epochs/s measure the backup rather than the engine, and each late epoch carries more dirty pages, which makes the next one later still.%n", o.maxInFlight()));
        }
        for (String n : notes) b.append("- **Note:** ").append(n).append('\n');
        b.append("- Full syncs (not measured; the rate is lowered to 1 MiB/s meanwhile): " + String.join("; ", syncs) + ".\n");
        b.append(f("- Per-epoch samples: the primary's status file polled every 3 ms, one sample per epoch (*missed* counts epochs a poll did not see); the incremental engine publishes its last epoch's pause phases. Epochs, epochs/s and bytes are exact differences over the measured interval. *Pause* is the primary's: freeze → process running again. The floor is `IncrementalFloorBenchmark.Floor`: *scan + copy* = `PAGEMAP_SCAN` (`PM_SCAN_WP_MATCHING`, without the maps read) + `process_vm_readv` of the written pages, its *whole pause* adds freeze, ptrace stop, maps, registers and detach.%n%n"));

        // ---- targets
        double p50 = EngineBenchmark.pct(i100.pauses(false), 0.5), p99 = EngineBenchmark.pct(i100.pauses(false), 0.99);
        double eps = inc25.epochsPerSec();
        b.append("### Targets\n\n| target | measured | verdict |\n|---|---|---|\n");
        b.append(f("| pause p50 ≤ 2 ms at 100 ms epochs | %s ms | %s |%n", ms(p50), verdict(p50, 2, true)));
        b.append(f("| pause p99 ≤ 5 ms at 100 ms epochs | %s ms (incremental epochs only: %s ms) | %s |%n", ms(p99),
                ms(EngineBenchmark.pct(i100.pauses(true), 0.99)), verdict(p99, 5, true)));
        b.append(f("| 40 epochs/s sustained at 25 ms epochs | %.1f epochs/s over %.0f s | %s |%n%n", eps, inc25.seconds(), verdict(eps, 40, false)));

        // ---- the rate
        b.append("### At the issue's rate\n\n");
        b.append("| engine | epoch | measured | epochs | epochs/s | dirty/epoch | pause p50 | p99 | max | raw/epoch | wire/epoch | ack p50 | ack p99 | CRIU dumps | missed | CPU wait |\n");
        b.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (Run r : List.of(i100, inc25, f100)) b.append(runRow(r));
        for (FloorRun f : List.of(fl100, fl25)) {
            double[] sc = f.scanCopy(), whole = f.of(Floor.Epoch::pause);
            b.append(f("| floor: scan + copy (whole pause) | %d ms | %d epochs | %d | %.1f | %s MB | %s (%s) | %s (%s) | %s (%s) | – | – | – | – | – | – | – |%n",
                    f.periodMs(), f.r().epochs().size(), f.r().epochs().size(), f.r().epochs().size() / f.r().wallSeconds(), mb(f.dirtyMb() * 1e6),
                    ms(EngineBenchmark.pct(sc, 0.5)), ms(EngineBenchmark.pct(whole, 0.5)), ms(EngineBenchmark.pct(sc, 0.99)),
                    ms(EngineBenchmark.pct(whole, 0.99)), ms(EngineBenchmark.pct(sc, 1)), ms(EngineBenchmark.pct(whole, 1))));
        }
        b.append(f("%n*dirty/epoch*: incremental, the pages the tracker reported written at the stop (uffd-wp; the pages written before it were pre-copied while the process ran, so *raw/epoch* is the epoch's real size); full, the dump's image, all of it; floor, the written pages it copied. *raw/epoch* and *wire/epoch*: what the primary shipped (records before and after LZ4). *ack*: from the end of shipping an epoch to the backup's acknowledgement (the backup's commit); with at most %d epochs in flight, a slow ack holds the next freeze back and the next epoch then carries more dirty pages. *CRIU dumps*: epochs of the interval that took a CRIU dump (all of them for the full engine).%n%n", o.maxInFlight()));

        // ---- phases
        b.append("### Where the incremental pause goes\n\n");
        b.append("Per-epoch phases of incremental epochs (no CRIU dump), p50 / p99 in ms. The pause runs on two threads: the tracer thread's phases (*stop*, *structure*, *seal*, *registers*, *wait*, *resume*) follow one another, the memory thread's (*collect*, *present*, *copy*) run meanwhile, from the end of the stop (the collect's walks need no maps, the rest waits for them); *other* is the pause minus the tracer thread's phases (the hand-over to the tracer thread; the incremental engine stops threads without the freezer and the benchmark has no proxy to seal at).\n\n");
        b.append("| epoch | rate | n | other | stop | structure | seal | collect | present | copy | registers | wait | resume | pause |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        List<Run> phaseRuns = new ArrayList<>(inc);
        phaseRuns.add(inc25);
        for (Run r : phaseRuns) {
            StringBuilder row = new StringBuilder(f("| %d ms | %s MiB/s | %d | %s |", r.epochMs(), num(r.rateMiBs()), r.phase(0).length, pp(r.freeze())));
            for (int i = 0; i < EngineBenchmark.PHASES.length; i++) row.append(' ').append(pp(r.phase(i))).append(" |");
            row.append(' ').append(pp(r.pauses(true))).append(" |\n");
            b.append(row);
        }
        b.append("\nPhases (the pre-copy before them is not part of the pause): *stop* `PTRACE_INTERRUPT` every thread (kept seized between epochs) and wait for the ptrace-stops; *structure* `/proc/PID/maps`, threads, fds, sigactions compared with the base dump's; *seal* the output seal at the proxy and the data dirs' capture; *collect* the tracker's written pages since the pre-copy (`PAGEMAP_SCAN`, reported, not re-protected: the next pre-copy does that while the process runs); *present* the present pages where pages were removed or written since the pre-copy (`PAGEMAP_SCAN`) and the range algebra; *copy* `process_vm_readv` of the pages written since the pre-copy; *registers* GETREGS/XSTATE/sigmask/siginfo per thread and the open files' positions; *wait* the tracer thread waiting for the memory thread; *resume* `PTRACE_CONT` every thread.\n\n");

        // ---- sweep
        b.append("### Pause vs. dirty rate (100 ms epochs)\n\n");
        b.append(f("![pause vs dirty rate, both engines](%s)%n%n", svg));
        b.append("| dirty rate | floor dirty/epoch | incremental dirty/epoch | incremental pause p50 | p99 | max | epochs | CRIU dumps | raw/epoch | full pause p50 | max | epochs | full raw/epoch | floor scan + copy p50 | floor whole pause p50 |\n");
        b.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (double rate : o.rates()) {
            Run ir = at(inc, rate), fr = at(full, rate);
            FloorRun fl = floors.stream().filter(x -> x.periodMs() == 100 && x.rateMiBs() == rate).findFirst().orElse(null);
            b.append(f("| %s MiB/s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |%n", num(rate),
                    fl == null ? "–" : mb(fl.dirtyMb() * 1e6) + " MB",
                    ir == null ? "–" : mb(ir.written()) + " MB",
                    ir == null ? "–" : ms(EngineBenchmark.pct(ir.pauses(false), 0.5)),
                    ir == null ? "–" : ms(EngineBenchmark.pct(ir.pauses(false), 0.99)),
                    ir == null ? "–" : ms(EngineBenchmark.pct(ir.pauses(false), 1)),
                    ir == null ? "–" : Long.toString(ir.epochs()), ir == null ? "–" : Long.toString(ir.dumps()),
                    ir == null ? "–" : mb(ir.raw() / (double) Math.max(1, ir.epochs())) + " MB",
                    fr == null ? "–" : ms(EngineBenchmark.pct(fr.pauses(false), 0.5)),
                    fr == null ? "–" : ms(EngineBenchmark.pct(fr.pauses(false), 1)),
                    fr == null ? "–" : Long.toString(fr.epochs()),
                    fr == null ? "–" : mb(fr.raw() / (double) Math.max(1, fr.epochs())) + " MB",
                    fl == null ? "–" : ms(EngineBenchmark.pct(fl.scanCopy(), 0.5)),
                    fl == null ? "–" : ms(EngineBenchmark.pct(fl.of(Floor.Epoch::pause), 0.5))));
        }
        b.append('\n');

        // ---- what stands in the way
        b.append("### What stands in the way\n\n");
        Map<String, Double> ph = EngineBenchmark.phaseP50(i100);
        double sc = EngineBenchmark.pct(fl100.scanCopy(), 0.5), whole = EngineBenchmark.pct(fl100.of(Floor.Epoch::pause), 0.5);
        String t = "on the tracer thread " + phases(ph, true) + " ms; meanwhile on the memory thread " + phases(ph, false) + " ms";
        b.append(f("- **p50 at 100 ms** (%s ms vs. 2 ms): the phases (medians) are %s. The physical floor of the same dirty set in this run is %s ms for `PAGEMAP_SCAN` + copy alone (%s MB/epoch) and %s ms for the floor's whole pause with ptrace; a pause of 2 ms is %s.%n",
                ms(p50), t, ms(sc), mb(fl100.dirtyMb() * 1e6), ms(whole),
                sc <= 2 ? "physically possible here only if the stop/registers/detach work (ptrace of " + threads + " threads) and everything else also fit in the " + ms(2 - sc) + " ms left"
                        : "below what copying this dirty set takes on this machine, with ptrace or without"));
        for (Run r : inc) {
            double expected = 1000.0 / r.epochMs();
            if (r.epochsPerSec() < 0.8 * expected) {
                b.append(f("- **%s MiB/s at 100 ms: the primary did not keep the period** (%.1f epochs/s instead of %.0f): each late epoch carries the dirty pages of a longer period (%s MB raw per epoch), whose copy makes the pause and whose shipping (page hashes, LZ4, SHA-256 of every record) and commit at the backup (ack p50 %s ms) make the next epoch later still.%n",
                        num(r.rateMiBs()), r.epochsPerSec(), expected, mb(r.raw() / (double) Math.max(1, r.epochs())), ms(EngineBenchmark.pct(r.acks(), 0.5))));
            }
        }
        b.append(f("- **p99 at 100 ms** (%s ms vs. 5 ms): %d of %d epochs in the interval took a CRIU dump (pause p50 of the full engine here: %s ms); without them p99 is %s ms. CPU wait during the interval: %s of the time (other jobs on the 2 cores), so the tail mostly measures the box.%n",
                ms(p99), i100.dumps(), i100.epochs(), ms(EngineBenchmark.pct(f100.pauses(false), 0.5)), ms(EngineBenchmark.pct(i100.pauses(true), 0.99)),
                pctText(i100.cpuPressure())));
        b.append(f("- **epochs/s at 25 ms** (%.1f vs. 40): pause p50 %s ms, p99 %s ms; %d CRIU dumps in %d epochs; the primary's loop waits for the next period after each epoch (at most %d in flight).%n",
                eps, ms(EngineBenchmark.pct(inc25.pauses(false), 0.5)), ms(EngineBenchmark.pct(inc25.pauses(false), 0.99)), inc25.dumps(), inc25.epochs(), o.maxInFlight()));
        Run fLo = full.get(0), fHi = full.get(full.size() - 1), iLo = inc.get(0), iHi = inc.get(inc.size() - 1);
        b.append(f("- **full engine**: a CRIU dump of the whole 1 GiB image every epoch: pause p50 %s ms at the issue's rate, %s ms at %s MiB/s and %s ms at %s MiB/s (the incremental engine: %s and %s ms); it cannot keep 100 ms epochs (%.2f epochs/s at the issue's rate).%n",
                ms(EngineBenchmark.pct(f100.pauses(false), 0.5)), ms(EngineBenchmark.pct(fLo.pauses(false), 0.5)), num(fLo.rateMiBs()),
                ms(EngineBenchmark.pct(fHi.pauses(false), 0.5)), num(fHi.rateMiBs()), ms(EngineBenchmark.pct(iLo.pauses(false), 0.5)),
                ms(EngineBenchmark.pct(iHi.pauses(false), 0.5)), f100.epochsPerSec()));
        return b.toString();
    }

    /** "name p50, …" of the tracer thread's phases, or of the memory thread's, in the engine's order. */
    private static String phases(Map<String, Double> p50, boolean tracerThread) {
        StringBuilder t = new StringBuilder();
        for (String k : EngineBenchmark.PHASES) {
            if (EngineBenchmark.TRACER_PHASES.contains(k) != tracerThread) continue;
            t.append(t.length() == 0 ? "" : ", ").append(k).append(' ').append(ms(p50.getOrDefault(k, Double.NaN)));
        }
        return t.toString();
    }

    private static String runRow(Run r) {
        double[] p = r.pauses(false);
        String dirty = r.engine().equals("full") ? "(whole image)" : mb(r.written()) + " MB";
        return f("| %s | %d ms | %.0f s | %d | %.1f | %s | %s | %s | %s | %s MB | %s MB | %s | %s | %d | %d | %s |%n", r.engine(), r.epochMs(), r.seconds(),
                r.epochs(), r.epochsPerSec(), dirty, ms(EngineBenchmark.pct(p, 0.5)), ms(EngineBenchmark.pct(p, 0.99)),
                ms(EngineBenchmark.pct(p, 1)), mb(r.raw() / (double) Math.max(1, r.epochs())), mb(r.wire() / (double) Math.max(1, r.epochs())),
                ms(EngineBenchmark.pct(r.acks(), 0.5)), ms(EngineBenchmark.pct(r.acks(), 0.99)), r.dumps(), r.missed(), pctText(r.cpuPressure()));
    }

    private static Run at(List<Run> runs, double rate) {
        return runs.stream().filter(r -> r.rateMiBs() == rate).findFirst().orElse(null);
    }

    private static String verdict(double v, double target, boolean atMost) {
        if (Double.isNaN(v)) return "not measured";
        boolean met = atMost ? v <= target : v >= target * 0.99;
        if (met) return "**met**" + (atMost ? f(" (%s ms to spare)", ms(target - v)) : "");
        return atMost ? f("**missed** by %s ms (%.1f× the target)", ms(v - target), v / target)
                : f("**missed** by %.1f epochs/s (%.0f%% of the target)", target - v, 100 * v / target);
    }

    private static String pp(double[] sorted) {
        return ms(EngineBenchmark.pct(sorted, 0.5)) + " / " + ms(EngineBenchmark.pct(sorted, 0.99));
    }

    static String ms(double v) {
        if (Double.isNaN(v)) return "–";
        return v >= 100 ? f("%.0f", v) : v >= 10 ? f("%.1f", v) : f("%.2f", v);
    }

    static String mb(double bytes) {
        double m = bytes / 1e6;
        return m >= 100 ? f("%.0f", m) : m >= 1 ? f("%.2f", m) : f("%.3f", m);
    }

    private static String pctText(double share) {
        return Double.isNaN(share) ? "n/a" : f("%.0f%%", 100 * share);
    }

    private static String num(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }

    private static String f(String fmt, Object... a) {
        return String.format(Locale.ROOT, fmt, a);
    }
}
