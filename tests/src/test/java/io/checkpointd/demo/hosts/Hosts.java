package io.checkpointd.demo.hosts;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Hosts on one machine: a "switch" network namespace holding a bridge, and {@link Host}s plugged into it by veth
 * pairs, with addresses {@code 10.213.N.i/24} and {@code fd00:213:N::i/64} that exist only inside these namespaces.
 * The test itself (in the root namespace) reaches the hosts through one more veth into the switch whose root end is
 * {@code 10.213.N.254} and {@code fd00:213:N::254} ({@link #testAddress()}, {@link #testAddress6()}), so clients can
 * run in the test JVM. IPv6 addresses are added {@code nodad}: usable at once. {@link #close()} kills every host's processes and
 * deletes every namespace (veths and iptables rules go with them); creating a {@code Hosts} first sweeps stale
 * {@code cpd-*} namespaces older than this JVM that a killed test run left behind.
 *
 * <pre>
 *  root ns (test JVM)            cpd-ID-switch (br0)             cpd-ID-primary / -backup / -front …
 *    cpdIDr 10.213.N.254 ── uplink ┐                   ┌── v-primary ─── eth0 10.213.N.1
 *                                   └──── br0 ─────────┼── v-backup  ─── eth0 10.213.N.2
 *                                                       └── v-front   ─── eth0 10.213.N.3
 * </pre>
 */
public final class Hosts implements AutoCloseable {
    private static final String PREFIX = "cpd-";
    private final String id;
    private final int subnet;
    private final Path dir;
    private final String switchNs;
    private final String rootIf;
    private final Map<String, Host> hosts = new LinkedHashMap<>();
    private final Set<String> partitions = new HashSet<>();
    private final List<String> namespaces = new ArrayList<>();
    private final int pidStep;
    /** The cgroup v2 directories of restored services (and their hold leaves) that existed before these hosts. */
    private final Set<Path> restoredCgroupsBefore = restoredCgroups();

    private Hosts(Path dir) throws IOException {
        SecureRandom r = new SecureRandom();
        this.id = String.format("%06x", r.nextInt(1 << 24));
        this.dir = dir;
        this.switchNs = PREFIX + id + "-switch";
        this.rootIf = "cpd" + id + "r";
        this.subnet = freeSubnet(r);
        int pidMax = Integer.parseInt(Files.readAllLines(Path.of("/proc/sys/kernel/pid_max")).get(0).strip()); // not readString: JDK 17 reads 1 byte of a sysctl file
        this.pidStep = Math.min(pidMax / 6, 1 << 20);
    }

    /** Creates the switch (and the test's link into it) after sweeping stale namespaces. Files go under {@code dir}. */
    public static Hosts create(Path dir) throws IOException {
        sweepStale();
        Hosts h = new Hosts(dir);
        try {
            h.addNs(h.switchNs);
            Sh.run("ip", "-n", h.switchNs, "link", "add", "br0", "type", "bridge");
            Sh.run("ip", "-n", h.switchNs, "link", "set", "br0", "up");
            Sh.run("ip", "-n", h.switchNs, "link", "set", "lo", "up");
            Sh.run("ip", "link", "add", h.rootIf, "type", "veth", "peer", "name", "uplink", "netns", h.switchNs);
            Sh.run("ip", "-n", h.switchNs, "link", "set", "uplink", "master", "br0", "up");
            Sh.run("ip", "addr", "add", h.testAddress() + "/24", "dev", h.rootIf);
            Sh.run("ip", "-6", "addr", "add", h.testAddress6() + "/64", "dev", h.rootIf, "nodad");
            Sh.run("ip", "link", "set", h.rootIf, "up");
            return h;
        } catch (IOException | RuntimeException e) {
            h.close();
            throw e;
        }
    }

    /**
     * Adds a host named {@code name} (letters, at most 10) with the next address and its own pid range, and boots it.
     */
    public Host host(String name) throws IOException, InterruptedException {
        if (!name.matches("[a-z][a-z0-9]{0,9}")) throw new IllegalArgumentException("host name " + name);
        if (hosts.containsKey(name)) throw new IllegalArgumentException("host " + name + " exists");
        int index = hosts.size() + 1;
        if (index > 5) throw new IllegalStateException("at most 5 hosts (pid ranges)");
        String ns = PREFIX + id + "-" + name;
        String port = "v-" + name;
        Host h = new Host(this, name, ns, "10.213." + subnet + "." + index, port, dir.resolve("host-" + name));
        h.address6(prefix6() + index);
        hosts.put(name, h);
        addNs(ns);
        Sh.run("ip", "-n", ns, "link", "set", "lo", "up");
        Sh.run("ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", switchNs);
        Sh.run("ip", "-n", switchNs, "link", "set", port, "master", "br0", "up");
        Sh.run("ip", "-n", ns, "addr", "add", h.address() + "/24", "dev", "eth0");
        Sh.run("ip", "-n", ns, "-6", "addr", "add", h.address6() + "/64", "dev", "eth0", "nodad");
        Sh.run("ip", "-n", ns, "link", "set", "eth0", "up");
        h.boot(pidStep * index);
        return h;
    }

    public Host get(String name) {
        Host h = hosts.get(name);
        if (h == null) throw new IllegalArgumentException("no host " + name);
        return h;
    }

    /** The test's own address on the bridge (root namespace): clients in the test JVM connect from it. */
    public String testAddress() {
        return "10.213." + subnet + ".254";
    }

    /** The test's own IPv6 address on the bridge (root namespace). */
    public String testAddress6() {
        return prefix6() + "254";
    }

    /** The hosts' IPv6 prefix: {@code fd00:213:N::}, to which a host's index is appended. */
    public String prefix6() {
        return "fd00:213:" + subnet + "::";
    }

    /**
     * The test's (root namespace's) neighbour entry for {@code ip} on its link into the switch, as
     * {@code ip neigh show} prints it ({@code "… lladdr MAC STATE"}), or "" when it has none.
     */
    public String testNeighbour(String ip) throws IOException {
        return Sh.run("ip", ip.contains(":") ? "-6" : "-4", "neigh", "show", ip, "dev", rootIf).strip();
    }

    String switchNs() {
        return switchNs;
    }

    /** Drops every packet between {@code a} and {@code b} (iptables in both hosts); other traffic flows. */
    public void partition(Host a, Host b) throws IOException {
        if (!partitions.add(key(a, b))) return;
        a.drop(b.address(), true);
        b.drop(a.address(), true);
    }

    /** Ends a {@link #partition}. */
    public void heal(Host a, Host b) throws IOException {
        if (!partitions.remove(key(a, b))) return;
        a.drop(b.address(), false);
        b.drop(a.address(), false);
    }

    private static String key(Host a, Host b) {
        return a.name().compareTo(b.name()) < 0 ? a.name() + "|" + b.name() : b.name() + "|" + a.name();
    }

    /** Kills every host's processes and deletes every namespace this fixture made. Never throws. */
    @Override
    public void close() {
        List<Host> all = new ArrayList<>(hosts.values());
        java.util.Collections.reverse(all);
        for (Host h : all) h.shutdown();
        for (String ns : namespaces) {
            try {
                killNetnsPids(ns);
                Sh.tryRun("ip", "netns", "del", ns);
            } catch (IOException e) {
                System.err.println("hosts: deleting " + ns + ": " + e.getMessage());
            }
        }
        try {
            Sh.tryRun("ip", "link", "del", rootIf); // normally gone with the switch namespace
        } catch (IOException e) {
            // already gone
        }
        removeRestoredCgroups();
    }

    /**
     * Removes the cgroups that backups on these hosts made for restored services and their packet holds: the
     * cgroup v2 hierarchy is the machine's, not a namespace's, and a killed host cleans nothing up. Only empty ones
     * that appeared since {@link #create} go (rmdir fails on a cgroup with processes), deepest first.
     */
    private void removeRestoredCgroups() {
        Set<Path> now = restoredCgroups();
        now.removeAll(restoredCgroupsBefore);
        now.stream().sorted(java.util.Comparator.comparingInt(Path::getNameCount).reversed()).forEach(d -> {
            try {
                Files.deleteIfExists(d);
            } catch (IOException e) {
                System.err.println("hosts: cgroup " + d + " stays: " + e.getMessage());
            }
        });
    }

    private static Set<Path> restoredCgroups() {
        Set<Path> out = new HashSet<>();
        try {
            java.util.Optional<Path> v2 = io.checkpointd.linux.cgroup.Cgroup2.mountPoint();
            if (v2.isEmpty()) return out;
            Path root = v2.get().resolve("checkpointd.restored");
            if (!Files.isDirectory(root)) return out;
            try (var walk = Files.walk(root, 3)) {
                walk.filter(p -> !p.equals(root) && Files.isDirectory(p)).forEach(out::add);
            }
        } catch (IOException | java.io.UncheckedIOException e) {
            System.err.println("hosts: listing restored services' cgroups: " + e.getMessage());
        }
        return out;
    }

    private void addNs(String ns) throws IOException {
        Sh.run("ip", "netns", "add", ns);
        namespaces.add(ns);
    }

    /** SIGKILLs every process in network namespace {@code ns} ({@code ip netns pids}). */
    static void killNetnsPids(String ns) throws IOException {
        if (!ns.startsWith(PREFIX)) throw new IllegalArgumentException(ns);
        for (int round = 0; round < 20; round++) {
            Sh.Result r = Sh.tryRun("ip", "netns", "pids", ns);
            if (r.exit() != 0 || r.output().isBlank()) return;
            for (String s : r.output().strip().split("\\s+")) {
                ProcessHandle.of(Long.parseLong(s)).ifPresent(ProcessHandle::destroyForcibly);
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /**
     * Deletes {@code cpd-*} namespaces (and kills their processes) that are older than this JVM: leftovers of a
     * run that was killed before its {@link #close()}. Only names with our prefix are touched.
     */
    static void sweepStale() throws IOException {
        Instant jvmStart = ProcessHandle.current().info().startInstant().orElse(Instant.now());
        Path run = Path.of("/run/netns");
        if (!Files.isDirectory(run)) return;
        List<String> stale = new ArrayList<>();
        try (var s = Files.list(run)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String n = p.getFileName().toString();
                if (!n.startsWith(PREFIX)) continue;
                FileTime t = Files.getLastModifiedTime(p, java.nio.file.LinkOption.NOFOLLOW_LINKS);
                if (t.toInstant().isBefore(jvmStart)) stale.add(n);
            }
        }
        for (String n : stale) {
            System.err.println("hosts: removing stale namespace " + n);
            killNetnsPids(n);
            Sh.tryRun("ip", "netns", "del", n);
        }
    }

    /** A 10.213.N.0/24 that no route of the root namespace uses yet (another fixture may be running). */
    private static int freeSubnet(SecureRandom r) throws IOException {
        String routes = Sh.run("ip", "-4", "route", "show");
        for (int i = 0; i < 50; i++) {
            int n = 1 + r.nextInt(250);
            if (!routes.contains("10.213." + n + ".")) return n;
        }
        throw new IOException("no free 10.213.N.0/24");
    }
}
