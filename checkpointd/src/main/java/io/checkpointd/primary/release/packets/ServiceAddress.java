package io.checkpointd.primary.release.packets;

import io.checkpointd.linux.net.Cidr;
import java.io.IOException;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The service's own address on this host ({@code protect --service-address}), the one the backup takes over. Every
 * packet from it is held, also those the kernel sends on the service's behalf once a socket is gone (a reset for a
 * peer's retransmission, a TIME_WAIT ack): {@link HoldRules}. When the process dies, {@link #remove()} takes the
 * address off the host, so that sockets left behind can send nothing more and nothing here answers for it.
 */
final class ServiceAddress {
    private static final Logger log = LoggerFactory.getLogger(ServiceAddress.class);

    private final Cidr cidr;
    private final String iface;
    private final NetnsCommands ns;
    private boolean removed;

    private ServiceAddress(Cidr cidr, String iface, NetnsCommands ns) {
        this.cidr = cidr;
        this.iface = iface;
        this.ns = ns;
    }

    /**
     * Finds the interface that holds {@code cidr} in the namespace: protect needs no {@code --service-iface}, and an
     * address that is not there (a typo would hold nothing) or has another prefix is refused.
     */
    static ServiceAddress find(Cidr cidr, NetnsCommands ns) throws IOException, InterruptedException {
        NetnsCommands.Result r = ns.run(List.of("ip", "-o", cidr.ipv6() ? "-6" : "-4", "addr", "show", "to", cidr.host()));
        if (r.exit() != 0) throw new IOException("ip addr show: " + r.output());
        // "3: eth0    inet 10.0.0.5/24 brd … scope global eth0\ …", or "inet6 fd00::100/64 scope global …" (compressed:
        // compared as addresses, not strings)
        String family = cidr.ipv6() ? "inet6" : "inet";
        for (String line : r.output().lines().toList()) {
            String[] f = line.trim().split("\\s+");
            int slash = f.length < 4 ? -1 : f[3].indexOf('/');
            if (slash < 0 || !f[2].equals(family) || !sameAddress(f[3].substring(0, slash), cidr)) continue;
            String prefix = f[3].substring(slash + 1);
            if (!prefix.equals(Integer.toString(cidr.prefix()))) {
                throw new IOException("--service-address " + cidr + ": the address has prefix /" + prefix + " on " + f[1]);
            }
            return new ServiceAddress(cidr, f[1], ns);
        }
        throw new IOException("--service-address " + cidr + " is not an address of the service's host (network namespace)");
    }

    private static boolean sameAddress(String literal, Cidr cidr) {
        try {
            return java.net.InetAddress.getByName(literal).equals(cidr.address()); // a literal: no name lookup
        } catch (java.net.UnknownHostException e) {
            return false;
        }
    }

    /** The {@code -s} match of the rule that holds the address's packets. */
    List<String> sourceMatch() {
        return List.of("-s", cidr.host());
    }

    /** The command whose rules match the address's family: {@code iptables} or {@code ip6tables}. */
    String iptables() {
        return cidr.ipv6() ? "ip6tables" : "iptables";
    }

    String describe() {
        return cidr + " on " + iface;
    }

    /** Takes the address off its interface (once); failures are logged: the caller goes on to the failover. */
    synchronized void remove() {
        if (removed) return;
        removed = true;
        try {
            NetnsCommands.Result r = ns.run(List.of("ip", "addr", "del", cidr.toString(), "dev", iface));
            if (r.exit() != 0) log.error("removing the service address {}: {}", describe(), r.output());
            else log.warn("removed the service address {} from this host: nothing here answers for it any more", describe());
        } catch (IOException e) {
            log.error("removing the service address {}: {}", describe(), e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            log.error("removing the service address {}: interrupted", describe());
        }
    }
}
