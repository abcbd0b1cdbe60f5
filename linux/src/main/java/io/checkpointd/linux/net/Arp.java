package io.checkpointd.linux.net;

import io.checkpointd.linux.FileDescriptor;
import io.checkpointd.linux.SyscallException;
import java.net.Inet4Address;

/**
 * Gratuitous ARP: announces on an interface that an IPv4 address is now at this interface's MAC, so neighbours and
 * switches send its traffic here at once (after an address takeover) instead of waiting for their ARP entries to
 * expire. Sent as ARP requests for the address itself from an {@code AF_PACKET} socket, as {@code arping -U} does;
 * needs {@code CAP_NET_RAW}.
 */
public final class Arp {
    private static final int ETH_P_ARP = 0x0806, ARP_LEN = 28, ARPHRD_ETHER = 1;
    private static final byte[] BROADCAST = {-1, -1, -1, -1, -1, -1};

    private Arp() {
    }

    /** Sends {@code count} gratuitous ARP requests for {@code address} on {@code iface}, {@code gapMillis} apart. */
    public static void announce(String iface, Inet4Address address, int count, long gapMillis) throws SyscallException, InterruptedException {
        try (FileDescriptor s = LinkLayer.socket(ETH_P_ARP, "ARP")) {
            LinkLayer.Interface itf = LinkLayer.lookup(s, iface);
            LinkLayer.send(s, itf, ETH_P_ARP, BROADCAST, request(itf.mac(), address.getAddress()), count, gapMillis, "ARP");
        }
    }

    /** An ARP request (RFC 826) for {@code ip} from {@code ip} at {@code mac}: sender and target address the same. */
    static byte[] request(byte[] mac, byte[] ip) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(ARP_LEN);
        b.putShort((short) ARPHRD_ETHER).putShort((short) 0x0800).put((byte) 6).put((byte) 4).putShort((short) 1);
        b.put(mac).put(ip).put(new byte[6]).put(ip);
        return b.array();
    }
}
