package io.checkpointd.bench;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The "server-churn" section of docs/benchmarks.md from {@link ServerChurnBenchmark}'s rows, with issue 15's targets. */
final class ServerChurnReport {
    /** Issue 15's targets: CRIU dumps after the first epoch, protected rate against unprotected, pause p99. */
    static final long MAX_DUMPS = 3;
    static final double MIN_RATE_RATIO = 0.5, MAX_PAUSE_P99_MS = 10;

    private ServerChurnReport() {
    }

    static String of(ChurnSettings s, List<ServerChurnBenchmark.Row> rows, String loadBefore, String loadAfter) {
        StringBuilder sb = new StringBuilder();
        sb.append(ServerChurnBenchmark.BEGIN_MARKER).append("\n## Servers from Maven Central under connection churn (issue 15)\n\n");
        sb.append(String.format(Locale.ROOT, "Run `%s` on %s, %s; load average %s before, %s after.%n%n", s.commandLine("bin/checkpointd-bench-servers"), HostInfo.machine(),
                Instant.now().toString().substring(0, 16) + "Z", loadBefore, loadAfter));
        sb.append(String.format(Locale.ROOT, "%d closed-loop clients, each request on a new connection, %d s measured after %d s of warm-up,"
                + " %d ms epochs (ending on output). *Netty HTTP (NIO)*: Netty 4.2's HTTP codec on two NIO event loops, `GET /put` with"
                + " `Connection: close`. *H2 TCP*: H2 2.3's TCP server, a thread per connection, a new JDBC connection per one-row"
                + " transaction (an in-memory database). CRIU dumps are counted after the first epoch, warm-up included. Phases: where"
                + " the pause goes, the mean of each over the sampled incremental pauses, and over those at or above the p99 (phases"
                + " under 0.5 ms left out there).%n%n", s.clients(), s.seconds(), s.warmup(), s.epochMs()));
        List<String[]> cells = new ArrayList<>();
        cells.add(new String[] {"server", "run", "requests/s", "vs unprotected", "request p50 / p99 ms", "CRIU dumps after the first epoch",
                "incremental epochs", "pause p50 / p99 / max ms (pauses)", "pause phases, mean ms (pauses)", "phases of pauses ≥ p99, mean ms (pauses)"});
        for (ServerChurnBenchmark.Row r : rows) {
            boolean prot = r.dumpsAfterFirst >= 0;
            ServerChurnBenchmark.Row base = unprotected(rows, r.server);
            cells.add(new String[] {r.server, r.run + (r.errors > 0 ? " (" + r.errors + " failed requests)" : ""), Fmt.fixed(r.rate(), 1),
                    base == null ? "–" : Fmt.fixed(100 * r.rate() / base.rate(), 0) + " %", Fmt.ms(r.latencyP50) + " / " + Fmt.ms(r.latencyP99),
                    prot ? r.dumpsAfterFirst + (r.reasons.isEmpty() ? "" : " (" + r.reasons + ")") : "–",
                    prot ? Long.toString(r.incrementalEpochs) : "–",
                    prot ? Fmt.ms(r.pauseP50) + " / " + Fmt.ms(r.pauseP99) + " / " + Fmt.ms(r.pauseMax) + " (" + r.pauses + ")" : "–",
                    prot ? r.phasesP50 : "–", prot ? r.phasesTail : "–"});
        }
        sb.append(Fmt.table(cells)).append('\n');
        sb.append("Targets (issue 15):\n\n");
        for (ServerChurnBenchmark.Row r : rows) {
            if (r.dumpsAfterFirst < 0) continue;
            ServerChurnBenchmark.Row base = unprotected(rows, r.server);
            double ratio = base == null ? Double.NaN : r.rate() / base.rate();
            sb.append(String.format(Locale.ROOT, "- %s: CRIU dumps after the first epoch %d (target ≤ %d: %s); rate %.1f %% of unprotected"
                    + " (target ≥ %.0f %%: %s); pause p99 %s ms (target ≤ %s ms: %s).%n", r.server, r.dumpsAfterFirst, MAX_DUMPS,
                    r.dumpsAfterFirst <= MAX_DUMPS ? "met" : "missed", 100 * ratio, 100 * MIN_RATE_RATIO,
                    ratio >= MIN_RATE_RATIO ? "met" : "missed", Fmt.ms(r.pauseP99), Fmt.ms(MAX_PAUSE_P99_MS),
                    r.pauseP99 <= MAX_PAUSE_P99_MS ? "met" : "missed"));
        }
        sb.append('\n').append(ServerChurnBenchmark.END_MARKER).append('\n');
        return sb.toString();
    }

    private static ServerChurnBenchmark.Row unprotected(List<ServerChurnBenchmark.Row> rows, String server) {
        for (ServerChurnBenchmark.Row r : rows) if (r.server.equals(server) && r.dumpsAfterFirst < 0) return r;
        return null;
    }
}
