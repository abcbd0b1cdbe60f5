package io.checkpointd.linux.net;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.checkpointd.linux.Syscalls;
import io.checkpointd.linux.net.nfqueue.NetNamespace;
import io.checkpointd.linux.testing.Children;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The announcements of a taken-over address against the kernel: two network namespaces of the test's own (children
 * {@code unshare -n}) joined by a veth pair; the peer has a REACHABLE neighbour entry for the address at an old
 * MAC, and after the announcement from the other end it holds that end's MAC.
 */
@Timeout(60)
class AddressAnnouncementTest {
    private static final String OLD_MAC = "02:00:00:00:0a:01";
    private final Children children = new Children();
    private int announcer, peer;

    @BeforeEach
    void namespaces() throws Exception {
        assumeTrue(Syscalls.geteuid() == 0, "needs root (network namespaces, CAP_NET_RAW)");
        announcer = namespace();
        peer = namespace();
        in(announcer, "ip", "link", "add", "a0", "type", "veth", "peer", "name", "b0", "netns", "/proc/" + peer + "/ns/net");
        in(announcer, "ip", "link", "set", "a0", "up");
        in(peer, "ip", "link", "set", "b0", "up");
        in(peer, "ip", "addr", "add", "10.9.9.2/24", "dev", "b0");
        in(peer, "ip", "-6", "addr", "add", "fd00:9::2/64", "dev", "b0", "nodad");
    }

    @AfterEach
    void end() throws Exception {
        children.close(); // the namespaces and the veth go with their last processes
    }

    @Test
    void aNeighborAdvertisementMovesThePeersEntryToThisInterface() throws Exception {
        in(peer, "ip", "-6", "neigh", "replace", "fd00:9::1", "lladdr", OLD_MAC, "dev", "b0", "nud", "reachable");
        assertThat(entry("-6", "fd00:9::1")).contains(OLD_MAC);
        Inet6Address vip = (Inet6Address) InetAddress.getByName("fd00:9::1");
        NetNamespace.in(announcer, () -> {
            try {
                NeighborAdvert.announce("a0", vip, 2, 20);
            } catch (InterruptedException e) {
                throw new IOException(e);
            }
            return null;
        });
        awaitEntry("-6", "fd00:9::1", mac("a0"));
    }

    @Test
    void aGratuitousArpMovesThePeersEntryToThisInterface() throws Exception {
        in(peer, "ip", "-4", "neigh", "replace", "10.9.9.1", "lladdr", OLD_MAC, "dev", "b0", "nud", "reachable");
        Inet4Address vip = (Inet4Address) InetAddress.getByName("10.9.9.1");
        NetNamespace.in(announcer, () -> {
            try {
                Arp.announce("a0", vip, 2, 20);
            } catch (InterruptedException e) {
                throw new IOException(e);
            }
            return null;
        });
        awaitEntry("-4", "10.9.9.1", mac("a0"));
    }

    private void awaitEntry(String family, String ip, String mac) throws Exception {
        String seen = "";
        for (int i = 0; i < 50; i++) { // the frames are in flight on the veth for a moment
            seen = entry(family, ip);
            if (seen.contains(mac)) return;
            Thread.sleep(20);
        }
        assertThat(seen).as("the peer's neighbour entry for " + ip + " after the announcement").contains(mac);
    }

    private String entry(String family, String ip) throws IOException, InterruptedException {
        return in(peer, "ip", family, "neigh", "show", ip, "dev", "b0");
    }

    private String mac(String iface) throws IOException, InterruptedException {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("link/ether (\\S+)").matcher(in(announcer, "ip", "-o", "link", "show", iface));
        if (!m.find()) throw new IOException("no MAC for " + iface);
        return m.group(1); // not /sys/class/net: nsenter -n keeps the root namespace's sysfs
    }

    private int namespace() throws Exception {
        Process p = children.start(new ProcessBuilder("unshare", "-n", "sleep", "120"));
        int pid = (int) p.pid();
        for (int i = 0; i < 100 && NetNamespace.isOwn(pid); i++) Thread.sleep(10); // unshare runs, then execs sleep
        assumeTrue(!NetNamespace.isOwn(pid), "unshare -n did not make a namespace");
        return pid;
    }

    /** Runs {@code cmd} in the network namespace of {@code pid}; its output, or IOException on failure. */
    private static String in(int pid, String... cmd) throws IOException, InterruptedException {
        List<String> full = new ArrayList<>(List.of("nsenter", "-t", Integer.toString(pid), "-n", "--"));
        full.addAll(List.of(cmd));
        Process p = new ProcessBuilder(full).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) throw new IOException(String.join(" ", cmd) + ": " + out.strip());
        return out;
    }
}
