package io.checkpointd.demo;

import io.checkpointd.protocol.status.Json;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * {@code checkpointd demo}: the whole loop on one machine. A demo key-value service is protected (backup, proxy,
 * protect), clients write through the proxy, the primary (service and daemon) is SIGKILLed, the backup fails over,
 * and every write a client saw acknowledged is read back from the restored service. Exit 0 only if that holds.
 */
public final class Demo {
    private Demo() {
    }

    /** Entry point used by the CLI: {@code --epoch 100ms --load-seconds 8 --clients 4}. */
    public static int run(PrintWriter out, String[] args) throws Exception {
        Duration epoch = Duration.ofMillis(25);
        int loadSeconds = 8, clients = 4;
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--epoch" -> epoch = Duration.ofMillis(Long.parseLong(args[i + 1].replace("ms", "")));
                case "--load-seconds" -> loadSeconds = Integer.parseInt(args[i + 1]);
                case "--clients" -> clients = Integer.parseInt(args[i + 1]);
                default -> throw new IllegalArgumentException("unknown demo option " + args[i]);
            }
        }
        Path base = Files.createTempDirectory("checkpointd-demo-");
        long t0 = System.nanoTime();
        say(out, "[1/6] starting the demo key-value service, a backup, the output-commit proxy and 'protect' (epoch %d ms)", epoch.toMillis());
        Cluster cluster = Cluster.start(Cluster.Options.of(base).withEpoch(epoch));
        boolean ok = false;
        try (KvWorkload load = new KvWorkload(KvWorkload.Config.of(cluster.proxyAddress()).withThreads(clients))) {
            say(out, "      service pid %d on %s, clients connect to the proxy on %s", cluster.servicePid(),
                    cluster.serviceAddress(), cluster.proxyAddress());
            say(out, "[2/6] %d clients writing through the proxy for %d s (a write counts once the client saw OK)", clients, loadSeconds);
            load.start();
            for (int s = 1; s <= loadSeconds; s++) {
                Thread.sleep(1000);
                Json p = cluster.status("primary").orElse(Json.object());
                KvWorkload.Progress pr = load.progress();
                say(out, "      %2d s: %7d acknowledged writes (%6.0f ops/s), epoch %s acked, pause p50 %s ms", s,
                        pr.ackedWrites(), pr.opsPerSecond(), p.get("lastAckedEpoch"), field(p, "pauseMs", "p50"));
            }
            Json primary = cluster.status("primary").orElse(Json.object());
            KvWorkload.Acked atKill = load.snapshot();
            long ackedBefore = atKill.writes();
            say(out, "[3/6] SIGKILL of the primary: service pid %d and its checkpointd daemon", cluster.servicePid());
            cluster.killPrimary();
            long killed = System.nanoTime();
            Json backup = cluster.awaitFailover(Duration.ofSeconds(60));
            Json f = (Json) backup.get("failover");
            say(out, "[4/6] the backup failed over: generation %s, restored epoch %s as pid %s in %s ms (restore %s ms); "
                            + "%.1f s from the kill", f.get("generation"), f.get("restoredEpoch"), f.get("restoredPid"),
                    f.get("failoverMs"), f.get("restoreMs"), (System.nanoTime() - killed) / 1e9);
            Thread.sleep(2000);
            load.stop();
            load.awaitTermination(Duration.ofSeconds(30));
            KvWorkload.Progress end = load.progress();
            say(out, "      clients reconnected through the proxy and went on: %d acknowledged writes in all (%d before the kill)",
                    end.ackedWrites(), ackedBefore);
            say(out, "[5/6] reading every acknowledged write back from the restored service");
            VerificationResult v = load.verify(cluster.proxyAddress(), Duration.ofSeconds(30), atKill);
            say(out, "      %s", v.summary());
            ok = v.ok();
            say(out, "[6/6] summary");
            say(out, "      epochs acknowledged   %s (epoch %d ms, engine %s)", primary.get("epochsAcked"), epoch.toMillis(), primary.get("engine"));
            if (primary.get("engineStats") instanceof Json st && st.get("criuDumps") != null) {
                say(out, "      of which              %s taken by the engine itself, %s CRIU dumps %s", st.get("incrementalEpochs"),
                        st.get("criuDumps"), st.get("criuDumpReasons"));
                if (st.get("xorPages") != null) {
                    say(out, "      changed pages         %s shipped as XOR against their last version, %s plain (incremental epochs)",
                            st.get("xorPages"), st.get("plainPages"));
                }
            }
            say(out, "      pause per epoch       p50 %s ms, p99 %s ms", field(primary, "pauseMs", "p50"), field(primary, "pauseMs", "p99"));
            say(out, "      ack after ship        p50 %s ms, p99 %s ms", field(primary, "ackMs", "p50"), field(primary, "ackMs", "p99"));
            long raw = num(primary.get("totalShippedRawBytes")), wire = num(primary.get("totalShippedWireBytes"));
            say(out, "      shipped               %.1f MB raw, %.1f MB compressed (%.1f:1)", raw / 1e6, wire / 1e6, raw / (double) Math.max(1, wire));
            say(out, "      failover              %s ms (failure noticed -> restored service accepting)", f.get("failoverMs"));
            say(out, "      acknowledged writes   %d (%d before the kill), all present: %s", end.ackedWrites(), ackedBefore, ok ? "yes" : "NO");
            say(out, "      total demo time       %.1f s; logs in %s", (System.nanoTime() - t0) / 1e9, cluster.logDir());
        } finally {
            cluster.close();
        }
        if (ok) cluster.deleteFiles(); // kept when the demo failed, for the logs
        say(out, ok ? "checkpointd demo: PASSED" : "checkpointd demo: FAILED (acknowledged writes were lost)");
        return ok ? 0 : 1;
    }

    private static Object field(Json j, String window, String key) {
        return Optional.ofNullable(j.get(window)).filter(w -> w instanceof Json).map(w -> ((Json) w).get(key)).orElse("-");
    }

    private static long num(Object o) {
        return o instanceof Number n ? n.longValue() : 0;
    }

    private static void say(PrintWriter out, String fmt, Object... args) {
        out.printf(fmt + "%n", args);
        out.flush();
    }
}
