package io.checkpointd.cli;

import io.checkpointd.protocol.status.Json;
import io.checkpointd.protocol.status.StatusFile;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code checkpointd status}: what the primaries, backups and proxies on this machine report. */
@Command(name = "status", mixinStandardHelpOptions = true,
        description = "Show the status of the checkpointd daemons on this machine: last epoch, pause and ack time "
                + "(p50/p99 over a window), bytes shipped, failover.")
public final class StatusCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--json", description = "print one JSON object: {\"daemons\": [...]} (fields in docs/operations.md)")
    boolean json;

    @Mixin
    RunDirOption runDir;

    @Override
    public Integer call() throws IOException {
        Path dir = StatusFile.runDir(runDir.path());
        List<Json> daemons = new ArrayList<>();
        if (Files.isDirectory(dir)) {
            try (Stream<Path> s = Files.list(dir)) {
                for (Path p : (Iterable<Path>) s.sorted()::iterator) {
                    if (!p.getFileName().toString().endsWith(".json")) continue;
                    try {
                        Object v = Json.parse(Files.readString(p, StandardCharsets.UTF_8));
                        if (!(v instanceof Json j)) continue;
                        Object pid = j.get("pid");
                        j.put("alive", pid instanceof Long l && ProcessHandle.of(l).map(ProcessHandle::isAlive).orElse(false));
                        daemons.add(j);
                    } catch (IOException | RuntimeException e) {
                        // a file being replaced or foreign: skip it
                    }
                }
            }
        }
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(Json.object().put("runDir", dir.toString()).put("daemons", daemons));
        } else if (daemons.isEmpty()) {
            out.println("no checkpointd daemons have published status in " + dir);
        } else {
            for (Json d : daemons) out.println(human(d));
        }
        out.flush();
        return Main.EXIT_OK;
    }

    private static String human(Json d) {
        String role = String.valueOf(d.get("role"));
        String head = String.format("%-7s pid %-7s %-12s %s", role, d.get("pid"),
                Boolean.TRUE.equals(d.get("alive")) ? d.get("state") == null ? "running" : d.get("state") : "not running", "");
        return switch (role) {
            case "primary" -> head + String.format("service %s gen %s epoch %s acked %s (%s epochs/s)%n"
                            + "        engine %s, tracker %s%s%n"
                            + "        pause ms %s | ack ms %s | shipped raw %s B, wire %s B in total",
                    d.get("servicePid"), d.get("generation"), d.get("lastEpoch"), d.get("lastAckedEpoch"), d.get("epochsPerSecond"),
                    d.get("engine"), d.get("tracker"), engineStats(d.get("engineStats")),
                    window(d.get("pauseMs")), window(d.get("ackMs")), d.get("totalShippedRawBytes"), d.get("totalShippedWireBytes"))
                    + (d.get("dataDirs") instanceof Json dd ? String.format("%n        data dirs %s: %s entries, last epoch %s B shipped, "
                    + "%s B read, %s ms frozen", dd.get("paths"), dd.get("entries"), dd.get("lastBytes"), dd.get("lastBytesRead"),
                    dd.get("lastFrozenMs")) : "");
            case "backup" -> head + String.format("committed gen %s epoch %s (applied %s, ack %s), fenced gen %s, %s epochs committed%n"
                            + "        commit ms %s%s", d.get("committedGeneration"), d.get("committedEpoch"), d.get("appliedEpoch"),
                    d.get("ack"), d.get("fencedGeneration"), d.get("epochsCommitted"), window(d.get("commitMs")),
                    d.get("failover") instanceof Json f ? String.format("%n        failover: gen %s restored epoch %s as pid %s in %s ms",
                            f.get("generation"), f.get("restoredEpoch"), f.get("restoredPid"), f.get("failoverMs")) : "");
            case "proxy" -> head + String.format("gen %s sealed %s released %s%s, %s connections, held %s B, released %s B",
                    d.get("generation"), d.get("lastSealedEpoch"), d.get("lastReleasedEpoch"),
                    Boolean.TRUE.equals(d.get("passthrough")) ? " (passthrough)" : "", d.get("connections"), d.get("heldBytes"), d.get("releasedBytes"))
                    + (d.get("addedDelayMs") instanceof Json a ? String.format("%n        added reply delay ms p50 %s p99 %s (n %s)",
                    a.get("p50"), a.get("p99"), a.get("n")) : "");
            default -> head;
        };
    }

    private static String engineStats(Object o) {
        if (!(o instanceof Json j) || j.get("criuDumps") == null) return "";
        return String.format("%n        %s incremental epochs, %s CRIU dumps %s", j.get("incrementalEpochs"), j.get("criuDumps"),
                j.get("criuDumpReasons") == null ? "" : j.get("criuDumpReasons"));
    }

    private static String window(Object w) {
        if (!(w instanceof Json j)) return "-";
        return "last " + j.get("last") + " p50 " + j.get("p50") + " p99 " + j.get("p99");
    }
}
