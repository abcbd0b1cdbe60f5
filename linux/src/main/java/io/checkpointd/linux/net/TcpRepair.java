package io.checkpointd.linux.net;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import io.checkpointd.linux.FileDescriptor;
import io.checkpointd.linux.SyscallException;

/**
 * A TCP socket held in repair mode ({@code TCP_REPAIR}), for reading what CRIU's libsoccr ({@code soccr/soccr.c})
 * saves of a connection: queue lengths and sequence numbers, queued bytes, window, negotiated options. Opened on a
 * socket held here (a {@code pidfd_getfd} duplicate of another process's); {@link #close()} leaves repair mode with
 * {@code TCP_REPAIR_OFF_NO_WP}, so the kernel sends no window probe and the peer sees nothing of the visit, and puts
 * back {@code SO_REUSEADDR}, which the kernel clears when repair goes off (as CRIU's {@code tcp_unlock_one} does:
 * without it, the connection's port, orphaned when the process dies, blocks a restored listener's bind). Needs {@code CAP_NET_ADMIN} in the socket's network namespace. Constants under their C names.
 */
public final class TcpRepair implements AutoCloseable {
    // <linux/tcp.h>
    public static final int TCP_MAXSEG = 2, TCP_REPAIR = 19, TCP_REPAIR_QUEUE = 20, TCP_QUEUE_SEQ = 21, TCP_TIMESTAMP = 24,
            TCP_REPAIR_WINDOW = 29;
    public static final int TCP_REPAIR_ON = 1, TCP_REPAIR_OFF_NO_WP = -1;
    public static final int TCP_RECV_QUEUE = 1, TCP_SEND_QUEUE = 2;
    /** {@code tcpi_options} bits. */
    public static final int TCPI_OPT_TIMESTAMPS = 1, TCPI_OPT_SACK = 2, TCPI_OPT_WSCALE = 4;
    // <linux/sockios.h>: SIOCINQ = FIONREAD, SIOCOUTQ = TIOCOUTQ
    private static final long SIOCINQ = 0x541B, SIOCOUTQ = 0x5411, SIOCOUTQNSD = 0x894B;
    private static final int MSG_PEEK = 2, MSG_DONTWAIT = 0x40;
    private static final int ENOPROTOOPT = 92;

    private final FileDescriptor s;
    private final int reuseAddr;
    private boolean on;

    /** The first bytes of {@code struct tcp_info} that libsoccr reads. */
    public record Info(int state, int options, int sndWscale, int rcvWscale) {
    }

    /** {@code struct tcp_repair_window}. */
    public record Window(long sndWl1, long sndWnd, long maxWindow, long rcvWnd, long rcvWup) {
    }

    private TcpRepair(FileDescriptor s, int reuseAddr) {
        this.s = s;
        this.reuseAddr = reuseAddr;
    }

    /** Turns repair mode on for {@code s}. */
    public static TcpRepair on(FileDescriptor s) throws SyscallException {
        TcpRepair r = new TcpRepair(s, SocketOptions.intOpt(s, SocketOptions.SOL_SOCKET, SocketOptions.SO_REUSEADDR));
        r.set(TCP_REPAIR, TCP_REPAIR_ON, "TCP_REPAIR");
        r.on = true;
        return r;
    }

    /** {@code TCP_INFO}: state, {@code tcpi_options} and the window scales (bit fields of byte 6, low nibble first). */
    public Info info() throws SyscallException {
        try (Memory m = new Memory(256)) {
            int[] len = {256};
            if (NetLib.INSTANCE.getsockopt(s.fd(), SocketOptions.SOL_TCP, SocketOptions.TCP_INFO, m, len) != 0) {
                throw new SyscallException("getsockopt(TCP_INFO)", Native.getLastError());
            }
            int scales = m.getByte(6) & 0xff;
            return new Info(m.getByte(0) & 0xff, m.getByte(5) & 0xff, scales & 0xf, scales >>> 4);
        }
    }

    /** Bytes in the receive queue ({@code SIOCINQ}: rcv_nxt - copied_seq). */
    public int inq() throws SyscallException {
        return ioctl(SIOCINQ, "SIOCINQ");
    }

    /** Bytes in the send queue, sent and not ({@code SIOCOUTQ}: write_seq - snd_una). */
    public int outq() throws SyscallException {
        return ioctl(SIOCOUTQ, "SIOCOUTQ");
    }

    /** Bytes of the send queue not sent yet ({@code SIOCOUTQNSD}). */
    public int outqNotSent() throws SyscallException {
        return ioctl(SIOCOUTQNSD, "SIOCOUTQNSD");
    }

    /** {@code TCP_MAXSEG}, which in repair mode is the MSS clamp. */
    public int mssClamp() throws SyscallException {
        return SocketOptions.intOpt(s, SocketOptions.SOL_TCP, TCP_MAXSEG);
    }

    /** {@code TCP_TIMESTAMP}: the connection's timestamp clock now. */
    public int timestamp() throws SyscallException {
        return SocketOptions.intOpt(s, SocketOptions.SOL_TCP, TCP_TIMESTAMP);
    }

    /** {@code TCP_REPAIR_WINDOW}, or null on a kernel without it (before 4.8), as libsoccr tolerates. */
    public Window window() throws SyscallException {
        try (Memory m = new Memory(20)) {
            int[] len = {20};
            if (NetLib.INSTANCE.getsockopt(s.fd(), SocketOptions.SOL_TCP, TCP_REPAIR_WINDOW, m, len) != 0) {
                int e = Native.getLastError();
                if (e == ENOPROTOOPT) return null;
                throw new SyscallException("getsockopt(TCP_REPAIR_WINDOW)", e);
            }
            return new Window(u32(m, 0), u32(m, 4), u32(m, 8), u32(m, 12), u32(m, 16));
        }
    }

    /** Selects {@code queue} ({@link #TCP_RECV_QUEUE} or {@link #TCP_SEND_QUEUE}) and reads its {@code TCP_QUEUE_SEQ}. */
    public long queueSeq(int queue) throws SyscallException {
        set(TCP_REPAIR_QUEUE, queue, "TCP_REPAIR_QUEUE");
        return Integer.toUnsignedLong(SocketOptions.intOpt(s, SocketOptions.SOL_TCP, TCP_QUEUE_SEQ));
    }

    /**
     * The {@code len} bytes of the queue last selected by {@link #queueSeq}, without taking them ({@code MSG_PEEK});
     * asks for one byte more, as libsoccr does, to be sure the queue holds exactly {@code len}.
     */
    public byte[] peek(int len) throws SyscallException {
        if (len == 0) return new byte[0];
        byte[] buf = new byte[len + 1];
        long got = NetLib.INSTANCE.recv(s.fd(), buf, buf.length, MSG_PEEK | MSG_DONTWAIT);
        if (got < 0) throw new SyscallException("recv(MSG_PEEK)", Native.getLastError());
        if (got != len) throw new SyscallException("recv(MSG_PEEK)", 0, "queue holds " + got + " bytes, expected " + len);
        return java.util.Arrays.copyOf(buf, len);
    }

    /** Leaves repair mode without a window probe and puts {@code SO_REUSEADDR} back. Idempotent. */
    @Override
    public void close() throws SyscallException {
        if (!on) return;
        on = false;
        set(TCP_REPAIR, TCP_REPAIR_OFF_NO_WP, "TCP_REPAIR off");
        set(SocketOptions.SOL_SOCKET, SocketOptions.SO_REUSEADDR, reuseAddr, "SO_REUSEADDR");
    }

    private void set(int name, int value, String what) throws SyscallException {
        set(SocketOptions.SOL_TCP, name, value, what);
    }

    private void set(int level, int name, int value, String what) throws SyscallException {
        if (NetLib.INSTANCE.setsockopt(s.fd(), level, name, new int[] {value}, 4) != 0) {
            throw new SyscallException("setsockopt(" + what + ")", Native.getLastError());
        }
    }

    private int ioctl(long request, String what) throws SyscallException {
        int[] v = {0};
        if (NetLib.INSTANCE.ioctl(s.fd(), request, v) != 0) throw new SyscallException("ioctl(" + what + ")", Native.getLastError());
        return v[0];
    }

    private static long u32(Memory m, long off) {
        return Integer.toUnsignedLong(m.getInt(off));
    }
}
