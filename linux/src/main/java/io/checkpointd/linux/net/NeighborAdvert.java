package io.checkpointd.linux.net;

import io.checkpointd.linux.FileDescriptor;
import io.checkpointd.linux.SyscallException;
import java.net.Inet6Address;
import java.nio.ByteBuffer;

/**
 * Unsolicited Neighbor Advertisement (RFC 4861 §7.2.6), IPv6's gratuitous ARP: announces to all nodes of the link
 * ({@code ff02::1}) that an IPv6 address is now at this interface's MAC. The override flag makes a neighbour that
 * has an entry for the address replace its link-layer address at once (the entry turns STALE and is confirmed on
 * first use) instead of probing the old MAC until the entry fails. Sent as a whole IPv6 packet (hop limit 255, as a
 * receiver requires) from an {@code AF_PACKET} socket, so the source is the announced address even while no socket
 * could bind it yet; needs {@code CAP_NET_RAW}.
 */
public final class NeighborAdvert {
    private static final int ETH_P_IPV6 = 0x86DD, IPPROTO_ICMPV6 = 58, HOP_LIMIT = 255;
    private static final int ND_NEIGHBOR_ADVERT = 136, ND_OPT_TARGET_LINKADDR = 2, FLAG_OVERRIDE = 0x20;
    static final int IPV6_HEADER = 40, NA_LENGTH = 32; // type, code, checksum, flags; target; one 8-byte option
    /** ff02::1, all nodes of the link. */
    private static final byte[] ALL_NODES = {(byte) 0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    /** The MAC that ff02::1 maps to (RFC 2464 §7: 33:33 and the low 32 bits). */
    private static final byte[] ALL_NODES_MAC = {0x33, 0x33, 0, 0, 0, 1};

    private NeighborAdvert() {
    }

    /** Sends {@code count} unsolicited advertisements of {@code address} on {@code iface}, {@code gapMillis} apart. */
    public static void announce(String iface, Inet6Address address, int count, long gapMillis) throws SyscallException, InterruptedException {
        try (FileDescriptor s = LinkLayer.socket(ETH_P_IPV6, "neighbor advertisement")) {
            LinkLayer.Interface itf = LinkLayer.lookup(s, iface);
            LinkLayer.send(s, itf, ETH_P_IPV6, ALL_NODES_MAC, packet(itf.mac(), address.getAddress()), count, gapMillis, "neighbor advertisement");
        }
    }

    /**
     * The IPv6 packet: from {@code ip} to ff02::1, an ICMPv6 Neighbor Advertisement for target {@code ip} with the
     * override flag (not solicited, not a router) and a target link-layer address option holding {@code mac}.
     */
    static byte[] packet(byte[] mac, byte[] ip) {
        ByteBuffer b = ByteBuffer.allocate(IPV6_HEADER + NA_LENGTH);
        b.putInt(6 << 28).putShort((short) NA_LENGTH).put((byte) IPPROTO_ICMPV6).put((byte) HOP_LIMIT).put(ip).put(ALL_NODES);
        b.put((byte) ND_NEIGHBOR_ADVERT).put((byte) 0).putShort((short) 0).put((byte) FLAG_OVERRIDE).put(new byte[3]).put(ip);
        b.put((byte) ND_OPT_TARGET_LINKADDR).put((byte) 1).put(mac);
        byte[] p = b.array();
        int sum = checksum(ip, ALL_NODES, p, IPV6_HEADER, NA_LENGTH);
        p[IPV6_HEADER + 2] = (byte) (sum >>> 8);
        p[IPV6_HEADER + 3] = (byte) sum;
        return p;
    }

    /** The ICMPv6 checksum (RFC 4443 §2.3) of {@code len} bytes at {@code off}, over the IPv6 pseudo-header. */
    static int checksum(byte[] src, byte[] dst, byte[] p, int off, int len) {
        long sum = words(src, 0, 16) + words(dst, 0, 16) + len + IPPROTO_ICMPV6 + words(p, off, len);
        while ((sum >>> 16) != 0) sum = (sum & 0xffff) + (sum >>> 16);
        return (int) (~sum & 0xffff);
    }

    private static long words(byte[] a, int off, int len) {
        long sum = 0;
        for (int i = 0; i < len; i += 2) sum += (a[off + i] & 0xff) << 8 | (i + 1 < len ? a[off + i + 1] & 0xff : 0);
        return sum;
    }
}
