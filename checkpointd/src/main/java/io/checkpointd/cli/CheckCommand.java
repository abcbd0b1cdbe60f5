package io.checkpointd.cli;

import io.checkpointd.linux.Feature;
import io.checkpointd.linux.Features;
import io.checkpointd.linux.criu.Criu;
import io.checkpointd.linux.freezer.FreezerKind;
import io.checkpointd.linux.track.Trackers;
import io.checkpointd.protocol.status.Json;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code checkpointd check}: what this machine supports; exit 0 only if {@code protect} can work here. */
@Command(name = "check", mixinStandardHelpOptions = true,
        description = "Print what this machine supports (CRIU, dirty-page trackers, freezer, ptrace, namespaces, "
                + "NFQUEUE) and exit 0 only if 'protect' can work here.")
public final class CheckCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--json", description = "print one JSON object instead of a table")
    boolean json;

    @Option(names = "--arbiter", paramLabel = "zk://HOST:PORT[,HOST:PORT]/BASE",
            description = "also report whether this arbiter (ZooKeeper) is reachable from here (not required for 'protect')")
    String arbiter;

    /** One line of the report; {@code required} items decide the exit code. */
    record Item(String name, boolean ok, boolean required, String detail) {
    }

    @Override
    public Integer call() throws InterruptedException {
        io.checkpointd.arbiter.ArbiterAddress arbiterAddress = null;
        if (arbiter != null) {
            try {
                arbiterAddress = io.checkpointd.arbiter.ArbiterAddress.parse(arbiter);
            } catch (IllegalArgumentException e) {
                throw new UsageException(e.getMessage());
            }
        }
        List<Item> items = new ArrayList<>();
        items.add(criu());
        for (var t : Trackers.availability().entrySet()) {
            boolean usable = t.getValue().startsWith("usable");
            items.add(new Item("tracker " + t.getKey(), usable, false, t.getValue().substring(t.getValue().indexOf(':') + 1).trim()));
        }
        items.add(new Item("tracker auto", true, false, "picks " + Trackers.autoChoice()));
        items.add(new Item("engine incremental", true, false, "the default: dirty pages + registers each epoch, a CRIU dump when the structure changes"));
        items.add(new Item("engine full", true, false, "--engine full: a CRIU dump every epoch"));
        FreezerKind fk = Features.freezerKind();
        items.add(new Item("freezer", fk != FreezerKind.NONE, true, fk == FreezerKind.NONE ? "no cgroup freezer (v1 or v2) mounted" : "cgroup " + fk.name().toLowerCase()));
        Feature pt = Features.ptrace();
        items.add(new Item("ptrace", pt.isAvailable(), true, detail(pt, "permitted")));
        boolean root = isRoot();
        items.add(new Item("privileges", root, true, root ? "root" : "not root: protect and backup need root"));
        Feature ns = Features.networkNamespaces();
        items.add(new Item("network namespaces", ns.isAvailable(), false, detail(ns, "available")));
        Feature nfq = Features.nfqueue();
        items.add(new Item("NFQUEUE", nfq.isAvailable(), false, detail(nfq, "available")));
        if (arbiterAddress != null) items.add(arbiterItem(arbiterAddress));
        boolean ok = items.stream().allMatch(i -> i.ok() || !i.required());
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            Json j = Json.object().put("protectCanWork", ok);
            List<Object> list = new ArrayList<>();
            for (Item i : items) list.add(Json.object().put("name", i.name()).put("ok", i.ok()).put("required", i.required()).put("detail", i.detail()));
            out.println(j.put("items", list));
        } else {
            for (Item i : items) out.printf("%-20s %-4s %s%n", i.name(), i.ok() ? "yes" : "no", i.detail());
            out.println(ok ? "checkpointd protect can work on this machine" : "checkpointd protect cannot work here: fix the 'no' lines marked above as required");
        }
        out.flush();
        return ok ? Main.EXIT_OK : Main.EXIT_FAILURE;
    }

    private static Item criu() {
        try {
            Criu c = Criu.locate();
            try {
                c.check();
                return new Item("CRIU", true, true, c.version() + " at " + c.binary() + "; criu check: looks good");
            } catch (Exception e) {
                return new Item("CRIU", false, true, c.version() + " at " + c.binary() + "; criu check failed: " + firstLine(e.getMessage()));
            }
        } catch (Exception e) {
            return new Item("CRIU", false, true, firstLine(e.getMessage()));
        }
    }

    private static Item arbiterItem(io.checkpointd.arbiter.ArbiterAddress address) throws InterruptedException {
        // connecting only: no node is read or made ("check" is the service id of this probe, never used)
        try (io.checkpointd.arbiter.ZkArbiter a = io.checkpointd.arbiter.ZkArbiter.start(address, "check", java.time.Duration.ofSeconds(5))) {
            boolean up = a.awaitConnected(java.time.Duration.ofSeconds(3));
            return new Item("arbiter", up, false, up ? address + " reachable" : address + " unreachable within 3 s");
        }
    }

    private static String detail(Feature f, String whenOk) {
        if (f.isAvailable()) return whenOk;
        Throwable t = f.unavailabilityCause();
        return t == null ? "unavailable" : firstLine(t.getMessage());
    }

    private static String firstLine(String s) {
        return s == null ? "" : s.lines().findFirst().orElse("");
    }

    private static boolean isRoot() {
        try {
            for (String l : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
                if (l.startsWith("Uid:")) return l.split("\\s+")[2].equals("0");
            }
        } catch (java.io.IOException e) {
            return false;
        }
        return false;
    }
}
