package io.checkpointd.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** The "packet-hold" section of docs/benchmarks.md from {@link HoldBenchmark}'s rows. */
final class HoldReport {
    private HoldReport() {
    }

    static String section(String date, String argv, int seconds, int warmup, LoadSampler load, List<HoldBenchmark.Row> rows) {
        StringBuilder sb = new StringBuilder();
        sb.append(HoldBenchmark.BEGIN_MARKER).append('\n');
        sb.append("## Packet hold vs. proxy (issue 16)\n\n");
        sb.append("- Date: ").append(date).append('\n');
        sb.append("- Machine: ").append(HostInfo.machine()).append('\n');
        sb.append("- Load average: ").append(load.describe()).append('\n');
        sb.append("- Command: `bin/checkpointd-bench-hold").append(argv.isEmpty() ? "" : " " + argv).append("` (")
                .append(warmup).append(" s warm-up, then ").append(seconds).append(" s measured per load)\n");
        sb.append("- The KV service runs in a network namespace of the benchmark's own, reached over a veth pair; "
                + "clients, backup, proxy and protect run in the root namespace, on the same 2 shared cores. Setups: "
                + "*unprotected* (clients straight to the service); *proxy*: `protect --proxy-control` (the default "
                + "`--hold proxy`), clients through the proxy; *packets*: `protect --hold packets`, clients straight to "
                + "the service, every packet it sends held in a netfilter queue. Both protected setups use the defaults "
                + "(epochs end on output, `--epoch-min 2ms`, `--epoch 100ms`, backup `--ack durable`).\n");
        sb.append("- *held*: the proxy's `addedDelayMs` (per reply chunk, read to written) or the packet hold's `heldMs` "
                + "(per released epoch, how long its first packet waited: the longest wait in that epoch); *p50/p99*: the "
                + "client's request latencies.\n\n");
        List<String[]> t = new ArrayList<>();
        t.add(new String[] {"load", "setup", "per second", "vs unprotected", "p50 ms", "p99 ms", "added p50 ms", "held p50 ms",
                "held p99 ms", "pause p50 ms"});
        for (HoldBenchmark.Row r : rows) {
            Optional<HoldBenchmark.Row> base = find(rows, r.load(), "unprotected");
            boolean prot = !r.setup().equals("unprotected") && base.isPresent();
            String share = prot ? Fmt.fixed(100 * r.m().perSecond() / base.get().m().perSecond(), 1) + " %" : "–";
            String added = prot ? Fmt.ms(r.m().p50() - base.get().m().p50()) : "–";
            t.add(new String[] {r.load(), r.setup(), r.error() != null ? "failed" : Fmt.fixed(r.m().perSecond(), 0), share,
                    Fmt.ms(r.m().p50()), Fmt.ms(r.m().p99()), added, prot ? Fmt.ms(r.heldP50()) : "–",
                    prot ? Fmt.ms(r.heldP99()) : "–", prot ? Fmt.ms(r.pauseP50()) : "–"});
        }
        sb.append(Fmt.table(t)).append("\n\n");
        for (HoldBenchmark.Row r : rows) if (r.error() != null) sb.append("- ").append(r.load()).append(", ").append(r.setup())
                .append(": failed: ").append(r.error()).append('\n');
        sb.append(HoldBenchmark.END_MARKER).append('\n');
        return sb.toString();
    }

    private static Optional<HoldBenchmark.Row> find(List<HoldBenchmark.Row> rows, String load, String setup) {
        return rows.stream().filter(r -> r.load().equals(load) && r.setup().equals(setup) && r.error() == null).findFirst();
    }
}
