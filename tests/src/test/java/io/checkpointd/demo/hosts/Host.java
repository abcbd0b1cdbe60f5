package io.checkpointd.demo.hosts;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * A "host" on this machine: its own network namespace ({@code ip netns}: {@code eth0} with {@link #address()} on the
 * fixture's bridge), its own pid namespace (with /proc mounted for it) and mount namespace, and its own boot id
 * (a file bind-mounted over {@code /proc/sys/kernel/random/boot_id} in its mount namespace, so checkpointd treats
 * two hosts as two machines). Pid 1 of the host is a small bash loop that reaps orphans; killing it makes the kernel
 * SIGKILL every process of the host, which is what {@link #kill()} does.
 *
 * <p>Each host's pids start at its own base ({@code ns_last_pid}): a process dumped on one host can be restored on
 * another only if its pid and every tid are free there, so the bases keep the hosts' pid ranges apart.
 *
 * <p>Commands run through {@code nsenter -t <init> --pid --mount --net} (not {@code ip netns exec}, which makes a
 * new mount namespace for every command: CRIU then sees the service in a mount namespace other than its own and
 * tries to dump it), and without {@code --wd}: nsenter opens that directory before entering the mount namespace, so
 * the process's cwd would stay a mount of the root namespace ("Can't lookup mount=… for fd=-3" at dump). Entering
 * the mount namespace alone puts root and cwd at the host's root. Create hosts through {@link Hosts#host}.
 */
public final class Host {
    private final Hosts net;
    private final String name;
    private final String ns;
    private final String address;
    private String address6; // set once by Hosts, before boot
    private final String switchPort;
    private final Path dir;
    private final String bootId = UUID.randomUUID().toString();
    private final List<HostProcess> processes = new CopyOnWriteArrayList<>();
    private Process initLauncher; // unshare, the parent of the host's pid 1
    private int initPid; // pid 1 of the host, in our namespace
    private boolean cutOff;
    private boolean killed;

    Host(Hosts net, String name, String ns, String address, String switchPort, Path dir) {
        this.net = net;
        this.name = name;
        this.ns = ns;
        this.address = address;
        this.switchPort = switchPort;
        this.dir = dir;
    }

    /** Starts the host's pid 1 inside its network namespace. */
    void boot(int pidBase) throws IOException, InterruptedException {
        Files.createDirectories(dir);
        Path bootIdFile = dir.resolve("boot_id");
        Files.writeString(bootIdFile, bootId + "\n");
        Path ready = dir.resolve("ready");
        String script = "set -e; echo " + pidBase + " > /proc/sys/kernel/ns_last_pid; mount --bind " + bootIdFile
                + " /proc/sys/kernel/random/boot_id; touch " + ready + "; set +e; "
                + "while :; do sleep 3600 & wait $!; done"; // bash reaps every orphan re-parented to it
        initLauncher = new ProcessBuilder("nsenter", "--net=/run/netns/" + ns, "--", "unshare", "--pid", "--fork", "--mount",
                "--propagation", "slave", "--mount-proc", "--", "bash", "-c", script)
                .redirectInput(new File("/dev/null")).redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("init.log").toFile()))
                .redirectErrorStream(true).start();
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!Files.exists(ready)) {
            if (!initLauncher.isAlive()) throw new IOException("host " + name + " did not boot: " + Files.readString(dir.resolve("init.log")));
            if (System.nanoTime() - deadline > 0) throw new IOException("host " + name + " did not boot within 10 s");
            Thread.sleep(10);
        }
        initPid = HostProcess.awaitChild(initLauncher, "bash", Duration.ofSeconds(5));
        if (HostProcess.innermostPid(initPid) != 1) throw new IOException("host " + name + ": pid 1 is not " + initPid);
    }

    public String name() {
        return name;
    }

    /** The network namespace's name ({@code ip netns}). */
    public String netns() {
        return ns;
    }

    /** This host's IPv4 address on the fixture's bridge. */
    public String address() {
        return address;
    }

    /** This host's IPv6 address on the fixture's bridge. */
    public String address6() {
        return address6;
    }

    void address6(String a) {
        address6 = a;
    }

    /** The MAC address of the host's {@code eth0} (its link into the switch). */
    public String mac() throws IOException {
        Sh.Result r = exec("ip", "-o", "link", "show", "eth0");
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("link/ether (\\S+)").matcher(r.output());
        if (r.exit() != 0 || !m.find()) throw new IOException("host " + name + ": no MAC for eth0: " + r.output());
        return m.group(1);
    }

    /** This host's neighbour entry for {@code ip} on {@code eth0}, as {@code ip neigh show} prints it, or "". */
    public String neighbour(String ip) throws IOException {
        Sh.Result r = exec("ip", ip.contains(":") ? "-6" : "-4", "neigh", "show", ip, "dev", "eth0");
        if (r.exit() != 0) throw new IOException("host " + name + ": ip neigh show " + ip + ": " + r.output());
        return r.output().strip();
    }

    /** Sets this host's neighbour entry for {@code ip} to {@code mac}, REACHABLE, as if it had just talked to it. */
    public void learnNeighbour(String ip, String mac) throws IOException {
        Sh.Result r = exec("ip", ip.contains(":") ? "-6" : "-4", "neigh", "replace", ip, "lladdr", mac, "dev", "eth0", "nud", "reachable");
        if (r.exit() != 0) throw new IOException("host " + name + ": ip neigh replace " + ip + ": " + r.output());
    }

    /** A directory for this host's files (on the shared filesystem: the hosts share one disk). */
    public Path dir() {
        return dir;
    }

    public String bootId() {
        return bootId;
    }

    /** Pid 1 of the host, as seen from the test. */
    public int initPid() {
        return initPid;
    }

    /** The processes started on this host (alive or not). */
    public List<HostProcess> processes() {
        return List.copyOf(processes);
    }

    /**
     * Starts {@code cmd} on this host with stdin/stdout/stderr at /dev/null, opened inside the host (what CRIU needs
     * for a process it dumps: a descriptor of a file in another mount namespace cannot be dumped), in its own session
     * ({@code setsid}). {@code comm} is the program's name in /proc (e.g. "java").
     */
    public HostProcess startDetached(String name, String comm, List<String> cmd) throws IOException, InterruptedException {
        List<String> full = new ArrayList<>(List.of("bash", "-c", "exec \"$@\" </dev/null >/dev/null 2>&1", "bash", "setsid"));
        full.addAll(cmd);
        return start(name, comm, full, null);
    }

    /** Starts {@code cmd} on this host; its output is appended to {@code log} (a file of the test's namespace). */
    public HostProcess start(String name, String comm, List<String> cmd, Path log) throws IOException, InterruptedException {
        if (killed) throw new IllegalStateException("host " + this.name + " was killed");
        List<String> full = new ArrayList<>(List.of("nsenter", "-t", Integer.toString(initPid), "--pid", "--mount", "--net", "--"));
        full.addAll(cmd);
        ProcessBuilder pb = new ProcessBuilder(full).redirectInput(new File("/dev/null"));
        if (log != null) pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).redirectErrorStream(true);
        else pb.redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD);
        Process launcher = pb.start();
        int pid;
        try {
            pid = HostProcess.awaitChild(launcher, comm, Duration.ofSeconds(20));
        } catch (IOException | InterruptedException e) {
            launcher.destroyForcibly();
            launcher.waitFor(5, TimeUnit.SECONDS);
            throw e;
        }
        HostProcess p = new HostProcess(this, name, launcher, pid, HostProcess.innermostPid(pid));
        processes.add(p);
        return p;
    }

    /** Runs a short command on this host to completion (at most 30 s). */
    public Sh.Result exec(String... cmd) throws IOException {
        List<String> full = new ArrayList<>(List.of("nsenter", "-t", Integer.toString(initPid), "--pid", "--mount", "--net", "--"));
        full.addAll(List.of(cmd));
        return Sh.tryRun(full.toArray(String[]::new));
    }

    /**
     * Host failure: SIGKILLs every process of the host at once (pid 1 of its pid namespace: the kernel kills the
     * rest), then anything else left in its network namespace, and reaps the launchers. The namespaces stay until
     * {@link Hosts#close()}; the host cannot run anything afterwards.
     */
    public void kill() throws IOException, InterruptedException {
        killed = true;
        if (initPid > 0) ProcessHandle.of(initPid).ifPresent(ProcessHandle::destroyForcibly);
        for (HostProcess p : processes) ProcessHandle.of(p.pid()).ifPresent(ProcessHandle::destroyForcibly);
        Hosts.killNetnsPids(ns);
        for (HostProcess p : processes) p.kill();
        if (initLauncher != null && !initLauncher.waitFor(10, TimeUnit.SECONDS)) {
            initLauncher.destroyForcibly();
            initLauncher.waitFor();
        }
    }

    public boolean isKilled() {
        return killed;
    }

    /** Unplugs the host's cable: its port on the switch goes down (every peer is unreachable, both ways). */
    public void cutOff() throws IOException {
        Sh.run("ip", "-n", net.switchNs(), "link", "set", switchPort, "down");
        cutOff = true;
    }

    /** Plugs the cable back in. */
    public void heal() throws IOException {
        Sh.run("ip", "-n", net.switchNs(), "link", "set", switchPort, "up");
        cutOff = false;
    }

    public boolean isCutOff() {
        return cutOff;
    }

    /** Drops every packet between this host and {@code peerAddress}, both directions (iptables in this host). */
    void drop(String peerAddress, boolean on) throws IOException {
        String op = on ? "-I" : "-D";
        Sh.run("ip", "netns", "exec", ns, "iptables", "-w", op, "INPUT", "-s", peerAddress, "-j", "DROP");
        Sh.run("ip", "netns", "exec", ns, "iptables", "-w", op, "OUTPUT", "-d", peerAddress, "-j", "DROP");
    }

    /** Ends the host: kills everything in it (see {@link #kill()}). */
    void shutdown() {
        try {
            kill();
        } catch (IOException | InterruptedException e) {
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
            System.err.println("hosts: ending host " + name + ": " + e.getMessage());
        }
    }

    @Override
    public String toString() {
        return name + " (" + address + ", netns " + ns + ")";
    }

    static String read(Path p) {
        try {
            return Files.readString(p, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }
}
