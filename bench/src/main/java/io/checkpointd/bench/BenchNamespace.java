package io.checkpointd.bench;

import java.io.IOException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;

/**
 * A network namespace of the benchmark's own, joined to the root namespace by one veth pair: the service runs
 * inside at {@link #serviceAddress()}, clients and daemons outside reach it from {@link #rootAddress()}. The packet
 * hold's rules go into this namespace, never into the root one. {@link #close()} deletes both (rules included).
 */
final class BenchNamespace implements AutoCloseable {
    private final String name;
    private final String rootIf;
    private final int subnet;

    private BenchNamespace(String name, String rootIf, int subnet) {
        this.name = name;
        this.rootIf = rootIf;
        this.subnet = subnet;
    }

    static BenchNamespace create() throws IOException, InterruptedException {
        SecureRandom r = new SecureRandom();
        String id = String.format("%05x", r.nextInt(1 << 20));
        String routes = run("ip", "-4", "route", "show");
        int subnet = -1;
        for (int i = 0; i < 50 && subnet < 0; i++) {
            int n = 1 + r.nextInt(250);
            if (!routes.contains("10.215." + n + ".")) subnet = n;
        }
        if (subnet < 0) throw new IOException("no free 10.215.N.0/24 for the benchmark's namespace");
        BenchNamespace ns = new BenchNamespace("cpdb-" + id, "cpdb" + id + "r", subnet);
        try {
            run("ip", "netns", "add", ns.name);
            run("ip", "link", "add", ns.rootIf, "type", "veth", "peer", "name", "eth0", "netns", ns.name);
            run("ip", "addr", "add", ns.rootAddress() + "/24", "dev", ns.rootIf);
            run("ip", "link", "set", ns.rootIf, "up");
            run("ip", "-n", ns.name, "addr", "add", ns.serviceAddress() + "/24", "dev", "eth0");
            run("ip", "-n", ns.name, "link", "set", "eth0", "up");
            run("ip", "-n", ns.name, "link", "set", "lo", "up");
            return ns;
        } catch (IOException | InterruptedException | RuntimeException e) {
            ns.close();
            throw e;
        }
    }

    String name() {
        return name;
    }

    String serviceAddress() {
        return "10.215." + subnet + ".1";
    }

    String rootAddress() {
        return "10.215." + subnet + ".254";
    }

    /**
     * {@code cmd} run inside the namespace, in a session of its own (CRIU dumps a session leader):
     * {@code setsid} and {@code nsenter} (network namespace only) exec in place, so the pid is the command's. Not
     * {@code ip netns exec}: its private mount namespace is one CRIU cannot dump ("unreachable sharing").
     */
    List<String> inside(List<String> cmd) {
        List<String> c = new ArrayList<>(List.of("setsid", "nsenter", "--net=/run/netns/" + name, "--"));
        c.addAll(cmd);
        return c;
    }

    private static String run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) throw new IOException(String.join(" ", cmd) + ": " + out.strip());
        return out;
    }

    /** Deletes the namespace (its processes must have ended) and the root end of the veth. */
    @Override
    public void close() {
        try {
            run("ip", "netns", "del", name);
        } catch (IOException | InterruptedException e) {
            System.err.println("bench namespace " + name + ": " + e.getMessage());
        }
        try {
            run("ip", "link", "del", rootIf);
        } catch (IOException | InterruptedException e) {
            // gone with the namespace
        }
    }
}
