package io.checkpointd.linux.net;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import io.checkpointd.linux.FileDescriptor;
import io.checkpointd.linux.SyscallException;
import java.net.Inet4Address;
import java.nio.charset.StandardCharsets;

/**
 * Gratuitous ARP: announces on an interface that an IPv4 address is now at this interface's MAC, so neighbours and
 * switches send its traffic here at once (after an address takeover) instead of waiting for their ARP entries to
 * expire. Sent as ARP requests for the address itself from an {@code AF_PACKET} socket, as {@code arping -U} does;
 * needs {@code CAP_NET_RAW}.
 */
public final class Arp {
    private static final int AF_PACKET = 17, SOCK_DGRAM = 2, ETH_P_ARP = 0x0806;
    // <linux/sockios.h>
    private static final long SIOCGIFHWADDR = 0x8927, SIOCGIFINDEX = 0x8933;
    private static final int IFREQ = 40, IFNAMSIZ = 16, SOCKADDR_LL = 20, ARP_LEN = 28, ARPHRD_ETHER = 1;

    private Arp() {
    }

    /** Sends {@code count} gratuitous ARP requests for {@code address} on {@code iface}, {@code gapMillis} apart. */
    public static void announce(String iface, Inet4Address address, int count, long gapMillis) throws SyscallException, InterruptedException {
        byte[] name = iface.getBytes(StandardCharsets.US_ASCII);
        if (name.length == 0 || name.length >= IFNAMSIZ) throw new IllegalArgumentException("interface name " + iface);
        int raw = NetLib.INSTANCE.socket(AF_PACKET, SOCK_DGRAM, Short.toUnsignedInt(Short.reverseBytes((short) ETH_P_ARP)));
        if (raw < 0) throw new SyscallException("socket(AF_PACKET)", Native.getLastError());
        try (FileDescriptor s = new FileDescriptor(raw, "ARP socket"); Memory ifr = new Memory(IFREQ); Memory to = new Memory(SOCKADDR_LL)) {
            ifr.clear();
            ifr.write(0, name, 0, name.length);
            if (NetLib.INSTANCE.ioctl(s.fd(), SIOCGIFINDEX, ifr) != 0) {
                throw new SyscallException("ioctl(SIOCGIFINDEX)", Native.getLastError(), iface);
            }
            int index = ifr.getInt(IFNAMSIZ);
            if (NetLib.INSTANCE.ioctl(s.fd(), SIOCGIFHWADDR, ifr) != 0) {
                throw new SyscallException("ioctl(SIOCGIFHWADDR)", Native.getLastError(), iface);
            }
            if ((ifr.getShort(IFNAMSIZ) & 0xffff) != ARPHRD_ETHER) throw new SyscallException("gratuitous ARP", 0, iface + " is not Ethernet");
            byte[] mac = ifr.getByteArray(IFNAMSIZ + 2, 6);
            to.clear();
            to.setShort(0, (short) AF_PACKET);
            to.setShort(2, Short.reverseBytes((short) ETH_P_ARP)); // network order
            to.setInt(4, index);
            to.setByte(11, (byte) 6);
            for (int i = 0; i < 6; i++) to.setByte(12 + i, (byte) 0xff); // broadcast
            byte[] packet = request(mac, address.getAddress());
            for (int i = 0; i < count; i++) {
                if (i > 0) Thread.sleep(gapMillis);
                long sent = NetLib.INSTANCE.sendto(s.fd(), packet, packet.length, 0, to, SOCKADDR_LL);
                if (sent != packet.length) throw new SyscallException("sendto(ARP)", Native.getLastError(), iface);
            }
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
