package io.checkpointd.restore.failover;

import io.checkpointd.linux.net.Arp;
import io.checkpointd.linux.net.Cidr;
import io.checkpointd.linux.net.NeighborAdvert;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves the service's address to this host at failover, so that the restored process's TCP connections carry on:
 * <ol>
 * <li>a drop rule for packets to the address ({@code iptables} or {@code ip6tables -I INPUT -d ADDRESS -j DROP}): once the address is
 *     here, a peer's retransmission reaching the kernel before CRIU has restored its socket would be answered with
 *     a reset;</li>
 * <li>the address on the interface ({@code ip addr replace}; an IPv6 one {@code nodad}), and gratuitous ARP
 *     ({@link Arp}) or an unsolicited Neighbor Advertisement ({@link NeighborAdvert}) so that neighbours and switches
 *     send its packets here at once;</li>
 * <li>after the restore, {@link #release()} lifts the rule: the peers' next retransmissions reach the restored
 *     sockets.</li>
 * </ol>
 * IPv4 or IPv6. Runs {@code ip} and {@code iptables}/{@code ip6tables} of this host (in its network namespace).
 */
public final class AddressTakeover {
    private static final Logger log = LoggerFactory.getLogger(AddressTakeover.class);
    private static final String COMMENT = "checkpointd-takeover";
    private static final long COMMAND_TIMEOUT_SECONDS = 10;

    /** The service address (IPv4 or IPv6), its prefix length, and the interface it goes on. */
    public record Config(InetAddress address, int prefix, String iface) {
        /** {@code IP/PREFIX} on interface {@code iface}; IllegalArgumentException with a one-line reason. */
        public static Config parse(String cidr, String iface) {
            Cidr c = Cidr.parse(cidr);
            if (iface == null || !iface.matches("[A-Za-z0-9_.:@-]{1,15}")) throw new IllegalArgumentException("interface name " + iface);
            return new Config(c.address(), c.prefix(), iface);
        }

        public boolean ipv6() {
            return address instanceof Inet6Address;
        }

        public String ip() {
            return address.getHostAddress();
        }

        @Override
        public String toString() {
            return ip() + "/" + prefix + " on " + iface;
        }
    }

    private final Config cfg;
    private boolean holding;

    public AddressTakeover(Config cfg) {
        this.cfg = cfg;
    }

    public Config config() {
        return cfg;
    }

    /** Installs the drop rule, adds the address and announces it. On failure the rule is lifted again. */
    public void take() throws IOException, InterruptedException {
        run(iptables(), "-w", "-I", "INPUT", "-d", cfg.ip(), "-m", "comment", "--comment", COMMENT, "-j", "DROP");
        holding = true;
        try {
            if (cfg.address() instanceof Inet6Address v6) {
                // nodad: usable at once, not tentative for a second of duplicate detection (the old host is gone)
                run("ip", "-6", "addr", "replace", cfg.ip() + "/" + cfg.prefix(), "dev", cfg.iface(), "nodad");
                NeighborAdvert.announce(cfg.iface(), v6, 3, 50);
            } else {
                run("ip", "addr", "replace", cfg.ip() + "/" + cfg.prefix(), "dev", cfg.iface());
                Arp.announce(cfg.iface(), (Inet4Address) cfg.address(), 3, 50);
            }
        } catch (IOException | RuntimeException | InterruptedException e) {
            release();
            throw e;
        }
        log.info("failover: took over {} (packets to it dropped until the restore is done)", cfg);
    }

    /** Lifts the drop rule, if {@link #take()} installed it; never throws. */
    public void release() {
        if (!holding) return;
        holding = false;
        try {
            run(iptables(), "-w", "-D", "INPUT", "-d", cfg.ip(), "-m", "comment", "--comment", COMMENT, "-j", "DROP");
            log.info("failover: packets to {} flow again", cfg.ip());
        } catch (IOException e) {
            log.error("failover: could not lift the drop rule for {}: {}", cfg.ip(), e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            log.error("failover: interrupted while lifting the drop rule for {}", cfg.ip());
        }
    }

    private String iptables() {
        return cfg.ipv6() ? "ip6tables" : "iptables";
    }

    private static void run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(new ArrayList<>(List.of(cmd))).redirectErrorStream(true).start();
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(COMMAND_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            p.waitFor();
            throw new IOException(String.join(" ", cmd) + ": no answer within " + COMMAND_TIMEOUT_SECONDS + " s");
        }
        if (p.exitValue() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed (exit " + p.exitValue() + "): " + new String(out).strip());
        }
    }
}
