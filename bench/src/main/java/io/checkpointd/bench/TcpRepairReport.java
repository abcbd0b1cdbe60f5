package io.checkpointd.bench;

import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;

/** The markdown section of {@link TcpRepairBenchmark}: per-epoch cost with and without the read, then restore. */
final class TcpRepairReport {
    private TcpRepairReport() {
    }

    static String render(List<TcpRepairBenchmark.Case> cases, List<TcpRepairBenchmark.Restore> restores, double seconds, long gapMs,
                         String begin, String end) {
        StringBuilder b = new StringBuilder(begin).append('\n');
        b.append("## TCP repair: per-epoch capture and restore of N connections (issue 16)\n\n");
        b.append(String.format(Locale.ROOT, "%s, %s, load %s. The demo KV service (4 event loops) on loopback holding N established"
                        + " connections from the harness, idle or with requests on every connection (2 threads, round-robin, one request"
                        + " in flight each). The engine has no switch for TCP repair (every stop reads every connected socket), so the"
                        + " capture step is measured as the pause runs it: cgroup freeze, list the fds, and in every other epoch read each"
                        + " connection with the engine's `TcpStreams` (off = the same epoch without that read), thaw; epochs %d ms apart,"
                        + " %.0f s per case, off and on alternating in one run. Pause = freeze to thaw (the freezer's own cost included,"
                        + " ptrace stops and memory excluded). Bytes: the epoch's `tcp-stream-*.img` files, all of them, those that differ"
                        + " from the previous epoch's (what is shipped), and those compressed with LZ4. \"Read gave up\": epochs whose read"
                        + " `TcpStreams` refused (the engine takes a CRIU dump in such an epoch); their pause is in the \"on\" column.%n%n",
                DateTimeFormatter.ISO_LOCAL_DATE.format(ZonedDateTime.now(ZoneOffset.UTC)), HostInfo.machine(), HostInfo.loadAverage(), gapMs, seconds));
        b.append("| connections | load | req/s | pause p50 ms off / on | pause p99 ms off / on | TCP read p50 / p99 ms | µs per connection (p50)"
                + " | stream bytes per epoch (all) | shipped per epoch | shipped, LZ4 | epochs | read gave up |\n");
        b.append("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (TcpRepairBenchmark.Case c : cases) {
            double read50 = PrimarySampler.percentile(c.capture(), 0.5);
            b.append(String.format(Locale.ROOT, "| %d | %s | %s | %.2f / %.2f | %.2f / %.2f | %.2f / %.2f | %s | %s | %s | %s | %d | %s |%n",
                    c.connections(), c.traffic() ? "requests" : "idle", c.traffic() ? String.format(Locale.ROOT, "%.0f", c.requestsPerSecond()) : "–",
                    PrimarySampler.percentile(c.pauseOff(), 0.5), PrimarySampler.percentile(c.pauseOn(), 0.5),
                    PrimarySampler.percentile(c.pauseOff(), 0.99), PrimarySampler.percentile(c.pauseOn(), 0.99),
                    read50, PrimarySampler.percentile(c.capture(), 0.99),
                    c.connections() == 0 ? "–" : String.format(Locale.ROOT, "%.1f", 1000 * read50 / c.connections()),
                    bytes(PrimarySampler.percentile(c.bytesAll(), 0.5)), bytes(PrimarySampler.percentile(c.bytesChanged(), 0.5)),
                    bytes(PrimarySampler.percentile(c.bytesLz4(), 0.5)), c.epochs(),
                    c.gaveUp() == 0 ? "0" : c.gaveUp() + " (" + c.why().replace('|', '/') + ")"));
        }
        b.append("\nRestore of the idle service with its N connections: `criu dump --tcp-established` (no network lock; the dump ends the"
                + " process with its sockets in repair mode, so the peers see nothing), then `criu restore --tcp-established -d`; one"
                + " request on a restored connection must be answered.\n\n");
        b.append("| connections | criu dump ms | criu restore ms | restored connection answered |\n|---|---|---|---|\n");
        for (TcpRepairBenchmark.Restore r : restores) {
            b.append(String.format(Locale.ROOT, "| %d | %.0f | %.0f | %s |%n", r.connections(), r.dumpMs(), r.restoreMs(),
                    r.error() != null ? "failed: " + r.error().replace('|', '/') : r.connections() == 0 ? "– (none)" : r.answered() ? "yes" : "no"));
        }
        b.append(end).append('\n');
        return b.toString();
    }

    /** Bytes as B, KiB or MiB. */
    private static String bytes(double v) {
        if (Double.isNaN(v)) return "–";
        if (v < 1024) return String.format(Locale.ROOT, "%.0f B", v);
        if (v < 1024 * 1024) return String.format(Locale.ROOT, "%.1f KiB", v / 1024);
        return String.format(Locale.ROOT, "%.2f MiB", v / (1024 * 1024));
    }
}
