package io.checkpointd.linux.net;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * An IPv4 or IPv6 address with its prefix length, spelled {@code IP/PREFIX}: a service address that moves between
 * hosts ({@code protect} and {@code backup --service-address}).
 */
public record Cidr(InetAddress address, int prefix) {
    /** Parses {@code IP/PREFIX} (literals only); IllegalArgumentException with a one-line reason. */
    public static Cidr parse(String cidr) {
        int slash = cidr.indexOf('/');
        if (slash < 0) throw new IllegalArgumentException("expected IP/PREFIX, got " + cidr);
        String ip = cidr.substring(0, slash);
        boolean v6 = ip.contains(":");
        // literals only: InetAddress would resolve a host name
        if (v6 ? !ip.matches("[0-9A-Fa-f:.]{2,45}") : !ip.matches("\\d{1,3}(\\.\\d{1,3}){3}")) {
            throw new IllegalArgumentException(ip + " is not an IPv4 or IPv6 address");
        }
        int prefix;
        try {
            prefix = Integer.parseInt(cidr.substring(slash + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("prefix of " + cidr + " is not a number");
        }
        int max = v6 ? 128 : 32;
        if (prefix < 1 || prefix > max) throw new IllegalArgumentException("prefix of " + cidr + " must be 1-" + max);
        InetAddress a;
        try {
            a = InetAddress.getByName(ip);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(ip + " is not an IPv4 or IPv6 address");
        }
        if (v6 != (a instanceof Inet6Address)) throw new IllegalArgumentException(ip + " is not an IPv6 address"); // ::ffff:a.b.c.d
        if (a.isLinkLocalAddress() || a.isMulticastAddress() || a.isAnyLocalAddress() || a.isLoopbackAddress()) {
            throw new IllegalArgumentException(ip + " cannot be a service address (link-local, multicast, any or loopback)");
        }
        return new Cidr(a, prefix);
    }

    public boolean ipv6() {
        return address instanceof Inet6Address;
    }

    /** The address alone, as {@code ip} prints it. */
    public String ip() {
        return address.getHostAddress();
    }

    /** The address as a host route: {@code IP/32} or {@code IP/128}. */
    public String host() {
        return ip() + (ipv6() ? "/128" : "/32");
    }

    @Override
    public String toString() {
        return ip() + "/" + prefix;
    }
}
