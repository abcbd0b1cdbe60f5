package io.checkpointd.bench;

import io.checkpointd.bench.CriuDumps.CriuDump;
import java.time.LocalDate;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/** The Markdown of {@link IncrementalFloorBenchmark}'s section: the floor's epochs next to the CRIU dumps. */
final class FloorReport {
    private FloorReport() {
    }

    static double pct(double[] sorted, double p) {
        if (sorted.length == 0) return Double.NaN;
        int i = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }

    static double[] sorted(List<Floor.Epoch> es, java.util.function.ToDoubleFunction<Floor.Epoch> f) {
        double[] a = es.stream().mapToDouble(f).toArray();
        Arrays.sort(a);
        return a;
    }

    static double mean(double[] a) {
        return Arrays.stream(a).average().orElse(Double.NaN);
    }

    /** One log line of a period's pause percentiles and rate. */
    static String line(Floor.Result r) {
        double[] p = sorted(r.epochs(), Floor.Epoch::pause);
        return String.format(Locale.ROOT, "floor @%d ms: %d epochs, pause p50 %.2f p99 %.2f max %.2f ms, %.1f epochs/s",
                r.periodMs(), r.epochs().size(), pct(p, 50), pct(p, 99), p[p.length - 1], r.epochs().size() / r.wallSeconds());
    }

    /** The section's Markdown (without its markers). */
    static String section(IncrementalFloorBenchmark.Options opt, Floor.Result f100, Floor.Result f25, List<CriuDump> dumps,
            String frozenGetregs, StructureSampler.Result wl, StructureSampler.Result kv) {
        StringBuilder s = new StringBuilder();
        String cpu = HostInfo.cpuModel();
        s.append("## Incremental checkpoint: physical floor vs. full CRIU dump\n\n");
        s.append(String.format(Locale.ROOT, "Measured %s by `bin/checkpointd-bench-floor` (`io.checkpointd.bench.IncrementalFloorBenchmark`)"
                        + " on %s, %d cores, kernel %s, one run. Protected process: `DirtyingWorkload`, `%s`, %d MB live"
                        + " `long[]` data, %d writer threads (%d threads in all), dirtying ~%d KB per 100 ms at random pages."
                        + " %d warm-up epochs per period are not counted.\n\n",
                LocalDate.now(), cpu, Runtime.getRuntime().availableProcessors(), System.getProperty("os.version"),
                String.join(" ", IncrementalFloorBenchmark.WORKLOAD_JVM_ARGS), opt.liveMb(), opt.threads(), f100.epochs().get(0).threads(), opt.rateKb(),
                opt.warmup()));
        s.append("| engine | period | epochs | pause p50 | pause p99 | pause max | freeze | stop (seize+thaw+wait) | scan (maps) | copy | regs | detach | dirty MB/epoch | epochs/s |\n");
        s.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (Floor.Result r : List.of(f100, f25)) {
            List<Floor.Epoch> e = r.epochs();
            double[] p = sorted(e, Floor.Epoch::pause);
            s.append(String.format(Locale.ROOT, "| floor (uffd-wp + ptrace) | %d ms | %d | %.2f ms | %.2f ms | %.2f ms | %.2f | %.2f | %.2f (%.2f) | %.2f | %.2f | %.2f | %.2f | %.1f |\n",
                    r.periodMs(), e.size(), pct(p, 50), pct(p, 99), p[p.length - 1],
                    pct(sorted(e, Floor.Epoch::freeze), 50), pct(sorted(e, Floor.Epoch::stop), 50), pct(sorted(e, Floor.Epoch::scan), 50),
                    pct(sorted(e, Floor.Epoch::maps), 50),
                    pct(sorted(e, Floor.Epoch::copy), 50), pct(sorted(e, Floor.Epoch::regs), 50), pct(sorted(e, Floor.Epoch::detach), 50),
                    mean(sorted(e, x -> (x.dirtyBytes() + x.newBytes()) / 1048576.0)), e.size() / r.wallSeconds()));
        }
        if (!dumps.isEmpty()) {
            double[] fz = dumps.stream().mapToDouble(d -> d.freezingMs() + d.frozenMs()).sorted().toArray();
            double[] wall = dumps.stream().mapToDouble(CriuDump::wallMs).sorted().toArray();
            double[] mem = dumps.stream().mapToDouble(CriuDump::memdumpMs).sorted().toArray();
            double[] nonMem = dumps.stream().mapToDouble(d -> d.freezingMs() + d.frozenMs() - d.memdumpMs()).sorted().toArray();
            double pages = dumps.stream().mapToDouble(CriuDump::pagesWritten).average().orElse(0);
            s.append(String.format(Locale.ROOT, "| full `criu dump --leave-running` to tmpfs | back to back | %d | %.0f ms | %.0f ms | %.0f ms | (freezing+frozen, CRIU stats) | | | memdump %.0f | | | %.0f | %.2f |\n",
                    dumps.size(), pct(fz, 50), pct(fz, 99), fz[fz.length - 1], pct(mem, 50), pages * 4096 / 1048576.0,
                    1000.0 / mean(wall)));
            s.append(String.format(Locale.ROOT, "| CRIU without its memory part (frozen − memdump, from the same dumps) | | %d | %.0f ms | %.0f ms | %.0f ms | | | | | | | | |\n",
                    dumps.size(), pct(nonMem, 50), pct(nonMem, 99), nonMem[nonMem.length - 1]));
        }
        s.append("\nColumns freeze … detach are medians in ms (pause = their sum per epoch). ");
        s.append(String.format(Locale.ROOT, "Per thread, stop + regs + detach cost %.1f µs at 100 ms (median epoch / %d threads); "
                        + "the XSAVE area read with `PTRACE_GETREGSET NT_X86_XSTATE` is %d bytes per thread. ",
                (pct(sorted(f100.epochs(), Floor.Epoch::stop), 50) + pct(sorted(f100.epochs(), Floor.Epoch::regs), 50)
                        + pct(sorted(f100.epochs(), Floor.Epoch::detach), 50)) * 1000 / f100.epochs().get(0).threads(),
                f100.epochs().get(0).threads(), f100.xstateBytes()));
        s.append("Reading registers of a thread of a frozen cgroup after `PTRACE_SEIZE`+`PTRACE_INTERRUPT`: ")
                .append(frozenGetregs).append("; so the floor uses CRIU's recipe (seize+interrupt while frozen, thaw, wait for the"
                        + " ptrace-stops, capture, detach) and counts all of it in the pause.\n");
        for (Floor.Result r : List.of(f100, f25)) {
            List<Floor.Epoch> e = r.epochs();
            double[] net = sorted(e, x -> x.pause() - x.runDelay());
            double[] quiet = e.stream().filter(x -> x.runDelay() < 0.5 && !x.gc()).mapToDouble(Floor.Epoch::pause).sorted().toArray();
            s.append(String.format(Locale.ROOT, "- %d ms: the harness thread waited for a CPU during the pause for %.2f ms (p50) / %.2f ms (p99)"
                            + " (`/proc/thread-self/schedstat`: other jobs share the 2 cores); pause minus that wait: p50 %.2f, p99 %.2f ms;"
                            + " %d epochs waited < 0.5 ms and had no harness GC: their pause p50 %.2f, p99 %.2f ms. Mean %.0f dirty regions per epoch;"
                            + " copy rate p50 %.2f GB/s.\n",
                    r.periodMs(), pct(sorted(e, Floor.Epoch::runDelay), 50), pct(sorted(e, Floor.Epoch::runDelay), 99), pct(net, 50), pct(net, 99),
                    quiet.length, pct(quiet, 50), pct(quiet, 99), e.stream().mapToLong(Floor.Epoch::regions).average().orElse(0),
                    pct(sorted(e, x -> (x.dirtyBytes() + x.newBytes()) / 1e6 / Math.max(1e-3, x.copy())), 50)));
        }
        for (Floor.Result r : List.of(f100, f25)) {
            int newV = r.epochs().stream().mapToInt(Floor.Epoch::newVmas).sum();
            long newB = r.epochs().stream().mapToLong(Floor.Epoch::newBytes).sum();
            int nt = r.epochs().stream().mapToInt(Floor.Epoch::notTracked).sum();
            int fails = r.epochs().stream().mapToInt(Floor.Epoch::copyFailures).sum();
            long withNew = r.epochs().stream().filter(x -> x.newVmas() > 0).count();
            s.append(String.format(Locale.ROOT, "- %d ms: %d of %d epochs registered new/grown VMA parts (%d in all, %.1f MB of present"
                            + " pages copied whole); %d tracked ranges lost registration; thread set changed in %d epochs;"
                            + " %d copy failures; epochs/s counts wall time from the first measured epoch.\n",
                    r.periodMs(), withNew, r.epochs().size(), newV, newB / 1048576.0, nt, r.threadChanges(), fails));
        }
        if (wl != null || kv != null) {
            s.append("\nStructure changes sampled every 25 ms for ").append((int) opt.structureSeconds())
                    .append(" s (not while checkpointing):\n\n");
            s.append("| process | epochs | with any change | maps | of which only anonymous VMAs | writable private maps | threads | fds | threads or fds | VMAs | threads | fds |\n");
            s.append("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
            for (StructureSampler.Result r : Stream.of(wl, kv).filter(x -> x != null).toList()) {
                s.append(String.format(Locale.ROOT, "| %s | %d | %d (%.1f%%) | %d | %d | %d | %d | %d | %d | %d→%d | %d→%d | %d→%d |\n",
                        r.name(), r.epochs(), r.anyChange(), 100.0 * r.anyChange() / Math.max(1, r.epochs()), r.mapsChange(),
                        r.mapsChangeAnonOnly(), r.writableMapsChange(), r.threadsChange(), r.fdsChange(), r.threadsOrFdsChange(), r.vmasFirst(), r.vmasLast(),
                        r.threadsFirst(), r.threadsLast(), r.fdsFirst(), r.fdsLast()));
            }
            for (StructureSampler.Result r : Stream.of(wl, kv).filter(x -> x != null).toList()) {
                if (!r.examples().isEmpty()) {
                    s.append("\nFirst maps changes of ").append(r.name()).append(" (removed + added `range perms path`):\n");
                    for (String ex : r.examples()) s.append("`").append(ex.substring(2)).append("`\n");
                }
            }
        }
        return s.toString();
    }
}
