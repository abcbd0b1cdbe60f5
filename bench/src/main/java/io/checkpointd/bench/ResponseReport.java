package io.checkpointd.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/** The "response-time" section of docs/benchmarks.md from {@link ResponseBenchmark}'s rows, with the targets. */
final class ResponseReport {
    static final double HELD_P50_TARGET = 5, HELD_P99_TARGET = 20, DEMO_FACTOR_TARGET = 10, DB_SHARE_TARGET = 0.10;

    private ResponseReport() {
    }

    static String section(String date, String argv, int seconds, int warmup, LoadSampler load, List<ResponseBenchmark.Row> rows) {
        StringBuilder sb = new StringBuilder();
        sb.append(ResponseBenchmark.BEGIN_MARKER).append('\n');
        sb.append("## Response time: epochs that end on output (issue 17)\n\n");
        sb.append("- Date: ").append(date).append('\n');
        sb.append("- Machine: ").append(HostInfo.machine()).append('\n');
        sb.append("- Load average: ").append(load.describe()).append('\n');
        sb.append("- Command: `bin/checkpointd-bench-response").append(argv.isEmpty() ? "" : " " + argv).append("` (")
                .append(warmup).append(" s warm-up, then ").append(seconds).append(" s measured per load)\n");
        sb.append("- Loads: *KV, 1 connection*: one client, one PUT at a time, through the proxy (request/response); "
                + "*KV, 4 clients (demo)*: the demo's `KvWorkload`, 4 synchronous clients, acknowledged writes/s; "
                + "*H2, 1 JDBC connection*: H2 2.3's TCP server (in-memory database), one connection, each one-row "
                + "INSERT its own committed transaction. Setups: *unprotected* (straight to the service), "
                + "*every 25 ms, ack durable (before)*: `protect --epoch 25ms --epoch-end interval`, backup `--ack durable`, "
                + "as before issue 17; *on output*: the defaults, `--epoch-end output --epoch-min 2ms --epoch 100ms`, "
                + "with backup `--ack durable` or `--ack memory`. Everything on loopback, on the same 2 shared cores.\n");
        sb.append("- *Where the added delay goes* (second table): p50s over the daemons' last 1,024 epochs, in the order a "
                + "held reply meets them. *trigger→freeze*: from the proxy's OUTPUT_HELD heard to the freeze (the floor, a "
                + "window slot); *capture*: the engine's pre-copy and pause (`cycleMs.capture`; *pause* is the part held); "
                + "*records*: the epoch's records produced and queued on the epoch loop (`cycleMs.ship`); *to END written*: "
                + "from EPOCH_BEGIN queued to EPOCH_END on the wire, records, LZ4 and writes on the ship stage included "
                + "(`cycleMs.write`); *END→ACK*: to the backup's ACK (`ackMs`), of which *apply* is the backup's verify and "
                + "apply of the epoch (`commitPhasesMs.apply`). *chain* adds trigger→freeze, capture, to END written and "
                + "END→ACK; *held − chain* is what the sum of p50s does not explain (the RELEASE, the proxy's write, and the "
                + "skew of adding p50s). The first three protected rows of a setup share one primary, so their breakdowns "
                + "overlap.\n");
        sb.append("- *held* is the proxy's own figure (`addedDelayMs` in its status): per reply chunk, the time from read "
                + "(service) to written (client), over its last 4,096 chunks; *p50/p99* are the client's request latencies.\n\n");
        List<String[]> t = new ArrayList<>();
        t.add(new String[] {"load", "setup", "per second", "vs unprotected", "p50 ms", "p99 ms", "held p50 ms", "held p99 ms",
                "epochs on output", "on interval"});
        for (ResponseBenchmark.Row r : rows) {
            Optional<ResponseBenchmark.Row> base = find(rows, r.load(), "unprotected");
            String share = base.isPresent() && r != base.get() ? pct(r.m().perSecond() / base.get().m().perSecond()) : "–";
            boolean prot = !r.setup().equals("unprotected");
            t.add(new String[] {r.load(), r.setup(), r.error() != null ? "failed" : Fmt.fixed(r.m().perSecond(), 0), share,
                    Fmt.ms(r.m().p50()), Fmt.ms(r.m().p99()), prot ? Fmt.ms(r.heldP50()) : "–", prot ? Fmt.ms(r.heldP99()) : "–",
                    prot ? Long.toString(r.endedOnOutput()) : "–", prot ? Long.toString(r.endedOnInterval()) : "–"});
        }
        sb.append(Fmt.table(t)).append("\n\n");
        sb.append("Where the added delay goes, p50 ms:\n\n");
        List<String[]> b = new ArrayList<>();
        b.add(new String[] {"load", "setup", "trigger→freeze", "capture", "pause", "records", "to END written", "END→ACK",
                "backup apply", "chain", "held", "held − chain"});
        for (ResponseBenchmark.Row r : rows) {
            if (r.setup().equals("unprotected") || r.error() != null) continue;
            ResponseBenchmark.Cycle c = r.cycle();
            b.add(new String[] {r.load(), r.setup(), Fmt.ms(c.trigger()), Fmt.ms(c.capture()), Fmt.ms(r.pauseP50()),
                    Fmt.ms(c.ship()), Fmt.ms(c.write()), Fmt.ms(c.ack()), Fmt.ms(c.apply()), Fmt.ms(c.chain()),
                    Fmt.ms(r.heldP50()), Fmt.ms(r.heldP50() - c.chain())});
        }
        sb.append(Fmt.table(b)).append("\n\n");
        sb.append("Inside capture and records, p50 ms (the engine's and the backup's own timers; *pre-copy* when one ran, "
                + "*skipped*: epochs without one since the primary started; pause phases on the tracer thread, *collect* on "
                + "the memory thread beside them; records: *patch* the image files, *files* those queued, *pages* hashed, "
                + "XORed and queued; *backup records*: the store thread appending the epoch's records before its apply):\n\n");
        List<String[]> in = new ArrayList<>();
        in.add(new String[] {"load", "setup", "pre-copy", "skipped", "stop", "structure", "seal wait", "registers", "collect",
                "patch", "files", "pages", "backup records"});
        for (ResponseBenchmark.Row r : rows) {
            if (r.setup().equals("unprotected") || r.error() != null) continue;
            ResponseBenchmark.Inside i = r.inside();
            in.add(new String[] {r.load(), r.setup(), Fmt.ms(i.precopy()), Long.toString(i.precopiesSkipped()), Fmt.ms(i.stop()),
                    Fmt.ms(i.structure()), Fmt.ms(i.seal()), Fmt.ms(i.registers()), Fmt.ms(i.collect()), Fmt.ms(i.patch()),
                    Fmt.ms(i.files()), Fmt.ms(i.pages()), Fmt.ms(i.backupRecords())});
        }
        sb.append(Fmt.table(in)).append("\n\n");
        sb.append("CPU time per epoch, ms (user and system, from each process's /proc stat over the load, warm-up included; "
                + "the daemons' JVMs start with the cluster, so some of it is their JIT compiling):\n\n");
        List<String[]> cpu = new ArrayList<>();
        cpu.add(new String[] {"load", "setup", "protect", "backup", "proxy", "service", "daemons"});
        for (ResponseBenchmark.Row r : rows) {
            if (r.setup().equals("unprotected") || r.error() != null) continue;
            ResponseBenchmark.Cpu c = r.cpu();
            cpu.add(new String[] {r.load(), r.setup(), Fmt.ms(c.protect()), Fmt.ms(c.backup()), Fmt.ms(c.proxy()),
                    Fmt.ms(c.service()), Fmt.ms(c.protect() + c.backup() + c.proxy())});
        }
        sb.append(Fmt.table(cpu)).append("\n\n");
        for (ResponseBenchmark.Row r : rows) if (r.error() != null) sb.append("- ").append(r.load()).append(", ").append(r.setup())
                .append(": failed: ").append(r.error()).append('\n');
        sb.append(targets(rows)).append('\n');
        sb.append(ResponseBenchmark.END_MARKER).append('\n');
        return sb.toString();
    }

    private static String targets(List<ResponseBenchmark.Row> rows) {
        StringBuilder sb = new StringBuilder("**Targets**\n\n");
        for (String setup : List.of(ResponseBenchmark.DURABLE.name(), ResponseBenchmark.MEMORY.name())) {
            find(rows, "KV, 1 connection", setup).ifPresent(r -> sb.append(String.format(Locale.ROOT,
                    "- Added reply delay, one connection, %s: held p50 %s ms (target ≤ %.0f: %s), p99 %s ms (target ≤ %.0f: %s).%n",
                    setup, Fmt.ms(r.heldP50()), HELD_P50_TARGET, verdict(r.heldP50() <= HELD_P50_TARGET), Fmt.ms(r.heldP99()),
                    HELD_P99_TARGET, verdict(r.heldP99() <= HELD_P99_TARGET))));
        }
        Optional<ResponseBenchmark.Row> before = find(rows, "KV, 4 clients (demo)", ResponseBenchmark.BEFORE.name());
        for (String setup : List.of(ResponseBenchmark.DURABLE.name(), ResponseBenchmark.MEMORY.name())) {
            Optional<ResponseBenchmark.Row> now = find(rows, "KV, 4 clients (demo)", setup);
            if (before.isPresent() && now.isPresent()) {
                double f = now.get().m().perSecond() / before.get().m().perSecond();
                sb.append(String.format(Locale.ROOT, "- Demo's acknowledged writes/s, %s: %.0f/s against %.0f/s before (×%.1f; target ≥ ×%.0f: %s).%n",
                        setup, now.get().m().perSecond(), before.get().m().perSecond(), f, DEMO_FACTOR_TARGET, verdict(f >= DEMO_FACTOR_TARGET)));
            }
        }
        Optional<ResponseBenchmark.Row> db = find(rows, "H2, 1 JDBC connection", "unprotected");
        for (String setup : List.of(ResponseBenchmark.BEFORE.name(), ResponseBenchmark.DURABLE.name(), ResponseBenchmark.MEMORY.name())) {
            Optional<ResponseBenchmark.Row> p = find(rows, "H2, 1 JDBC connection", setup);
            if (db.isPresent() && p.isPresent()) {
                double share = p.get().m().perSecond() / db.get().m().perSecond();
                sb.append(String.format(Locale.ROOT, "- H2 single-connection commits, %s: %.0f/s against %.0f/s unprotected (%s; target ≥ %s: %s).%n",
                        setup, p.get().m().perSecond(), db.get().m().perSecond(), pct(share), pct(DB_SHARE_TARGET), verdict(share >= DB_SHARE_TARGET)));
            }
        }
        return sb.toString();
    }

    private static Optional<ResponseBenchmark.Row> find(List<ResponseBenchmark.Row> rows, String load, String setup) {
        return rows.stream().filter(r -> r.load().equals(load) && r.setup().equals(setup) && r.error() == null).findFirst();
    }

    private static String verdict(boolean met) {
        return met ? "met" : "missed";
    }

    private static String pct(double share) {
        return Double.isNaN(share) ? "?" : share >= 0.1 ? Fmt.fixed(share * 100, 0) + " %" : Fmt.fixed(share * 100, 2) + " %";
    }
}
