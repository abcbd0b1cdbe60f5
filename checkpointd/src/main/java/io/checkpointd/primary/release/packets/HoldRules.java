package io.checkpointd.primary.release.packets;

import io.checkpointd.linux.cgroup.Cgroup2;
import io.checkpointd.linux.net.Cidr;
import io.checkpointd.linux.net.nfqueue.SocketMarks;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Selects every packet the protected process sends for the queue, in the process's network namespace: its
 * threads go into a leaf cgroup v2 directory inside its own cgroup (so it never leaves its systemd unit; the v2
 * freezer's leaf nests the same way) and {@code -m cgroup --path}, which matches that directory and those below it,
 * sends what its sockets emit to {@code NFQUEUE} (IPv4 and IPv6, mangle OUTPUT). A socket's cgroup is fixed when the socket is made, so the
 * sockets the process already had get a mark ({@link SocketMarks}) that a second rule matches; connections a
 * marked listening socket accepts inherit it. With a service address ({@link ServiceAddress}), a third rule holds every
 * packet from that address, whichever socket (or none) sent it. No {@code --queue-bypass}: with no reader the kernel
 * drops.
 */
final class HoldRules implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(HoldRules.class);
    /** The leaf's name, inside the process's own cgroup: {@value}PID. */
    static final String LEAF = "checkpointd-held-";
    /** The mark of sockets the process had at start: this prefix and the queue number. */
    static final int MARK_BASE = 0x43500000;

    private final int pid;
    private final int queue;
    private final Path cgroup;
    private final String cgroupPath;
    private final String homeCgroup;
    private final List<List<String>> installed = new ArrayList<>();
    private final NetnsCommands ns;
    private ServiceAddress address;
    private int markedSockets;

    private HoldRules(int pid, int queue, Path mount, String current, NetnsCommands ns) {
        this.pid = pid;
        this.queue = queue;
        this.ns = ns;
        String cur = current.startsWith("/") ? current.substring(1) : current;
        if (cur.equals(LEAF + pid) || cur.endsWith("/" + LEAF + pid)) {
            // left by a protect that was killed: reuse it, and the cgroup around it is home
            this.cgroupPath = cur;
            this.homeCgroup = cur.contains("/") ? cur.substring(0, cur.lastIndexOf('/')) : "";
        } else {
            this.cgroupPath = cur.isEmpty() ? LEAF + pid : cur + "/" + LEAF + pid;
            this.homeCgroup = cur;
        }
        this.cgroup = mount.resolve(cgroupPath);
    }

    /** The mark of queue {@code queue}'s sockets. */
    static int mark(int queue) {
        return MARK_BASE | queue;
    }

    /**
     * Installs the rules, then moves the process into the cgroup, then marks the sockets it already has (in that
     * order, so a socket made meanwhile is caught by one or the other).
     *
     * @param serviceAddress null, or the service's own address, whose every packet is held too
     */
    static HoldRules install(int pid, int queue, Cidr serviceAddress) throws IOException, InterruptedException {
        Path mount = Cgroup2.mountPoint().orElseThrow(() -> new IOException("no cgroup v2 hierarchy is mounted: "
                + "the packet hold selects the process by its cgroup v2 directory"));
        HoldRules r = new HoldRules(pid, queue, mount, Cgroup2.pathOf(pid).orElse("/"), NetnsCommands.of(pid));
        try {
            if (serviceAddress != null) {
                r.address = ServiceAddress.find(serviceAddress, r.ns);
                r.add(r.address.iptables(), r.address.sourceMatch());
            }
            Files.createDirectories(r.cgroup);
            for (String cmd : new String[] {"iptables", "ip6tables"}) {
                r.add(cmd, List.of("-m", "cgroup", "--path", r.cgroupPath));
                r.add(cmd, List.of("-m", "mark", "--mark", "0x" + Integer.toHexString(mark(queue))));
            }
            Cgroup2.move(pid, r.cgroup);
            r.markedSockets = SocketMarks.markAll(pid, mark(queue));
            return r;
        } catch (IOException | InterruptedException | RuntimeException e) {
            r.close();
            throw e;
        }
    }

    private void add(String cmd, List<String> match) throws IOException, InterruptedException {
        List<String> rule = new ArrayList<>(match);
        rule.addAll(List.of("-m", "comment", "--comment", "checkpointd hold of pid " + pid, "-j", "NFQUEUE", "--queue-num",
                Integer.toString(queue)));
        if (run(cmd, "-C", rule, true) == 0) run(cmd, "-D", rule, true); // left by a protect that was killed
        run(cmd, "-A", rule, false);
        List<String> undo = new ArrayList<>(List.of(cmd));
        undo.addAll(rule);
        installed.add(undo);
    }

    /** {@code cmd -w -t mangle <op> OUTPUT <rule>} in the process's network namespace. @return its exit status */
    private int run(String cmd, String op, List<String> rule, boolean quiet) throws IOException, InterruptedException {
        List<String> c = new ArrayList<>(List.of(cmd, "-w", "-t", "mangle", op, "OUTPUT"));
        c.addAll(rule);
        NetnsCommands.Result r = ns.run(c);
        if (r.exit() != 0 && !quiet) throw new IOException(cmd + " " + op + " OUTPUT " + String.join(" ", rule) + ": " + r.output());
        return r.exit();
    }

    /** The service address whose packets are held, or null. */
    ServiceAddress serviceAddress() {
        return address;
    }

    /** Sockets marked at start. */
    int markedSockets() {
        return markedSockets;
    }

    String cgroupPath() {
        return cgroupPath;
    }

    /** Removes the rules and the cgroup (the process, if alive, goes back where it was). Failures are logged. */
    @Override
    public void close() {
        for (List<String> r : installed) {
            try {
                run(r.get(0), "-D", r.subList(1, r.size()), false);
            } catch (IOException e) {
                log.warn("removing the hold's rule: {}", e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                log.warn("removing the hold's rule: interrupted");
            }
        }
        installed.clear();
        try {
            if (Files.exists(cgroup)) {
                Path home = cgroup.getParent();
                if (Files.exists(Path.of("/proc/" + pid)) && !Files.readString(cgroup.resolve("cgroup.procs")).isBlank()) {
                    Cgroup2.move(pid, home);
                }
                Files.deleteIfExists(cgroup);
            }
        } catch (IOException e) {
            log.warn("removing the hold's cgroup {}: {}", cgroup, e.getMessage());
        }
        ns.close();
    }
}
