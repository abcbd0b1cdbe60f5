package io.checkpointd.linux.net;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import io.checkpointd.linux.FileDescriptor;
import io.checkpointd.linux.SyscallException;
import java.nio.charset.StandardCharsets;

/**
 * An Ethernet interface as an {@code AF_PACKET} sender sees it: its index and MAC address ({@code SIOCGIFINDEX},
 * {@code SIOCGIFHWADDR}), and sending one frame's payload to a link-layer destination. Shared by {@link Arp} and
 * {@link NeighborAdvert}, which announce a taken-over address.
 */
final class LinkLayer {
    static final int AF_PACKET = 17, SOCK_DGRAM = 2;
    // <linux/sockios.h>
    private static final long SIOCGIFHWADDR = 0x8927, SIOCGIFINDEX = 0x8933;
    private static final int IFREQ = 40, IFNAMSIZ = 16, SOCKADDR_LL = 20, ARPHRD_ETHER = 1;

    /** The interface's index and MAC. */
    record Interface(String name, int index, byte[] mac) {
    }

    private LinkLayer() {
    }

    /** Opens an {@code AF_PACKET} datagram socket for EtherType {@code ethType} (needs {@code CAP_NET_RAW}). */
    static FileDescriptor socket(int ethType, String what) throws SyscallException {
        int raw = NetLib.INSTANCE.socket(AF_PACKET, SOCK_DGRAM, Short.toUnsignedInt(Short.reverseBytes((short) ethType)));
        if (raw < 0) throw new SyscallException("socket(AF_PACKET)", Native.getLastError(), what);
        return new FileDescriptor(raw, what + " socket");
    }

    /** Index and MAC of Ethernet interface {@code iface}, asked on socket {@code s}. */
    static Interface lookup(FileDescriptor s, String iface) throws SyscallException {
        byte[] name = iface.getBytes(StandardCharsets.US_ASCII);
        if (name.length == 0 || name.length >= IFNAMSIZ) throw new IllegalArgumentException("interface name " + iface);
        try (Memory ifr = new Memory(IFREQ)) {
            ifr.clear();
            ifr.write(0, name, 0, name.length);
            if (NetLib.INSTANCE.ioctl(s.fd(), SIOCGIFINDEX, ifr) != 0) {
                throw new SyscallException("ioctl(SIOCGIFINDEX)", Native.getLastError(), iface);
            }
            int index = ifr.getInt(IFNAMSIZ);
            if (NetLib.INSTANCE.ioctl(s.fd(), SIOCGIFHWADDR, ifr) != 0) {
                throw new SyscallException("ioctl(SIOCGIFHWADDR)", Native.getLastError(), iface);
            }
            if ((ifr.getShort(IFNAMSIZ) & 0xffff) != ARPHRD_ETHER) throw new SyscallException("address announcement", 0, iface + " is not Ethernet");
            return new Interface(iface, index, ifr.getByteArray(IFNAMSIZ + 2, 6));
        }
    }

    /** Sends {@code count} copies of {@code payload} (EtherType {@code ethType}) to {@code dstMac}, {@code gapMillis} apart. */
    static void send(FileDescriptor s, Interface itf, int ethType, byte[] dstMac, byte[] payload, int count, long gapMillis, String what)
            throws SyscallException, InterruptedException {
        try (Memory to = new Memory(SOCKADDR_LL)) {
            to.clear();
            to.setShort(0, (short) AF_PACKET);
            to.setShort(2, Short.reverseBytes((short) ethType)); // network order
            to.setInt(4, itf.index());
            to.setByte(11, (byte) 6);
            to.write(12, dstMac, 0, 6);
            for (int i = 0; i < count; i++) {
                if (i > 0) Thread.sleep(gapMillis);
                long sent = NetLib.INSTANCE.sendto(s.fd(), payload, payload.length, 0, to, SOCKADDR_LL);
                if (sent != payload.length) throw new SyscallException("sendto(" + what + ")", Native.getLastError(), itf.name());
            }
        }
    }
}
