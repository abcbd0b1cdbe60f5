package io.checkpointd.linux.net.nfqueue;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import io.checkpointd.linux.Errno;
import io.checkpointd.linux.FileDescriptor;
import io.checkpointd.linux.SyscallException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * One netfilter queue ({@code NFQUEUE --queue-num N}) read over a {@code NETLINK_NETFILTER} socket, speaking
 * {@code nfnetlink_queue} directly. The packets stay in the kernel: only their ids and lengths are read (a copy
 * range of a few bytes), and one {@link #verdict(int, int)} decides every packet queued up to an id (ids grow by
 * one per packet of a queue). While the socket is open and no verdict is given, a packet is held; when the socket
 * closes the kernel drops whatever it still holds (and, with no reader and no {@code --queue-bypass}, every packet
 * sent to the queue later).
 *
 * <p>Not thread-safe: the owner serializes {@link #drain}, {@link #verdict} and {@link #close}.
 */
public final class NfQueue implements AutoCloseable {
    /** Verdicts ({@code <linux/netfilter.h>}). */
    public static final int NF_DROP = 0, NF_ACCEPT = 1;
    private static final int AF_NETLINK = 16, SOCK_RAW = 3, SOCK_CLOEXEC = 0x80000, NETLINK_NETFILTER = 12;
    private static final int SOL_SOCKET = 1, SO_RCVBUF = 8, SO_RCVBUFFORCE = 33, MSG_DONTWAIT = 0x40;
    private static final int ENOBUFS = 105, POLLIN = 1;
    /** Enough of an IPv6 header; the whole length comes in NFQA_CAP_LEN. */
    private static final int COPY_RANGE = 40;

    private final FileDescriptor fd;
    private final int queue;
    private final byte[] buf = new byte[256 * 1024];
    private int seq = 100;
    private long enobufs;
    private long verdictErrors;
    private int lastVerdictErrno;

    private NfQueue(FileDescriptor fd, int queue) {
        this.fd = fd;
        this.queue = queue;
    }

    /**
     * Opens a socket in the calling thread's network namespace and binds it to queue {@code queue}.
     *
     * @param maxLen  packets the kernel holds for the queue before it drops new ones ({@code NFQA_CFG_QUEUE_MAXLEN})
     * @param rcvBuf  the socket's receive buffer, bytes: when it is full the kernel drops the packet it tried to
     *                report (seen here as ENOBUFS)
     * @throws SyscallException EPERM when another socket reads the queue
     */
    public static NfQueue open(int queue, int maxLen, int rcvBuf) throws SyscallException {
        if (queue < 0 || queue > 65535) throw new IllegalArgumentException("queue number " + queue);
        int s = NfLib.INSTANCE.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
        if (s < 0) throw new SyscallException("socket(NETLINK_NETFILTER)", Native.getLastError());
        FileDescriptor fd = new FileDescriptor(s, "nfqueue " + queue);
        try {
            byte[] addr = ByteBuffer.allocate(12).order(ByteOrder.nativeOrder()).putShort((short) AF_NETLINK).array();
            if (NfLib.INSTANCE.bind(s, addr, addr.length) != 0) throw new SyscallException("bind(NETLINK_NETFILTER)", Native.getLastError());
            if (NfLib.INSTANCE.setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, new int[] {rcvBuf}, 4) != 0
                    && NfLib.INSTANCE.setsockopt(s, SOL_SOCKET, SO_RCVBUF, new int[] {rcvBuf}, 4) != 0) {
                throw new SyscallException("setsockopt(SO_RCVBUF)", Native.getLastError(), rcvBuf + " bytes");
            }
            NfQueue q = new NfQueue(fd, queue);
            q.request("bind queue " + queue, NfQueueMessages.cmd(NfQueueMessages.NFQNL_CFG_CMD_BIND));
            q.request("configure queue " + queue, NfQueueMessages.params(NfQueueMessages.NFQNL_COPY_PACKET, COPY_RANGE),
                    NfQueueMessages.be32(NfQueueMessages.NFQA_CFG_QUEUE_MAXLEN, maxLen),
                    NfQueueMessages.be32(NfQueueMessages.NFQA_CFG_FLAGS, NfQueueMessages.NFQA_CFG_F_GSO),
                    NfQueueMessages.be32(NfQueueMessages.NFQA_CFG_MASK, NfQueueMessages.NFQA_CFG_F_GSO | NfQueueMessages.NFQA_CFG_F_FAIL_OPEN));
            return q;
        } catch (SyscallException | RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    public int queue() {
        return queue;
    }

    /** Sends a config message and waits (up to 2 s) for its answer; packets read meanwhile would be lost, so only at open. */
    private void request(String what, byte[]... attrs) throws SyscallException {
        int s = ++seq;
        send(NfQueueMessages.config(queue, s, true, attrs), what);
        long deadline = System.nanoTime() + 2_000_000_000L;
        int[] answer = {Integer.MIN_VALUE};
        while (answer[0] == Integer.MIN_VALUE) {
            long left = (deadline - System.nanoTime()) / 1_000_000;
            if (left <= 0 || !awaitReadable((int) left)) throw new SyscallException("nfnetlink_queue", Errno.EIO, what + ": no answer");
            long n = NfLib.INSTANCE.recv(fd.fd(), buf, buf.length, MSG_DONTWAIT);
            if (n < 0) {
                int e = Native.getLastError();
                if (e == Errno.EINTR || e == Errno.EAGAIN) continue;
                throw new SyscallException("recv(nfnetlink_queue)", e, what);
            }
            NfQueueMessages.parse(buf, (int) n, new NfQueueMessages.Sink() {
                @Override
                public void packet(int id, int length) {
                    throw new IllegalStateException("a packet on queue " + queue + " before it was configured");
                }

                @Override
                public void answer(int aseq, int errno) {
                    if (aseq == s) answer[0] = errno;
                }
            });
        }
        if (answer[0] != 0) throw new SyscallException("nfnetlink_queue", answer[0], what);
    }

    /** A packet read from the queue. */
    public interface PacketSink {
        /** @param id the kernel's id (unsigned, compare with {@link #after}) @param length its bytes */
        void packet(int id, int length);
    }

    /**
     * Reads every message the socket holds now, without waiting, up to EAGAIN; each packet goes to {@code sink}, in
     * id order. A full receive buffer (ENOBUFS: the kernel dropped packets it could not report) is counted and the
     * read goes on: a dropped TCP segment is sent again, a UDP datagram is lost as on any congested path.
     *
     * @return the packets read
     */
    public int drain(PacketSink sink) throws SyscallException {
        int total = 0;
        NfQueueMessages.Sink s = new NfQueueMessages.Sink() {
            @Override
            public void packet(int id, int length) {
                sink.packet(id, length);
            }

            @Override
            public void answer(int aseq, int errno) {
                if (errno != 0) {
                    verdictErrors++;
                    lastVerdictErrno = errno;
                }
            }
        };
        while (true) {
            long n = NfLib.INSTANCE.recv(fd.fd(), buf, buf.length, MSG_DONTWAIT);
            if (n < 0) {
                int e = Native.getLastError();
                if (e == Errno.EAGAIN) return total;
                if (e == Errno.EINTR) continue;
                if (e == ENOBUFS) {
                    enobufs++;
                    continue;
                }
                throw new SyscallException("recv(nfnetlink_queue)", e, "queue " + queue);
            }
            total += NfQueueMessages.parse(buf, (int) n, s);
        }
    }

    /** Waits up to {@code timeoutMs} for something to read. @return whether there is */
    public boolean awaitReadable(int timeoutMs) throws SyscallException {
        try (Memory m = new Memory(8)) {
            m.setInt(0, fd.fd());
            m.setShort(4, (short) POLLIN);
            m.setShort(6, (short) 0);
            int r = NfLib.INSTANCE.poll(m, 1, timeoutMs);
            if (r < 0) {
                int e = Native.getLastError();
                if (e == Errno.EINTR) return false;
                throw new SyscallException("poll(nfnetlink_queue)", e);
            }
            return r > 0;
        }
    }

    /**
     * One {@code NFQNL_MSG_VERDICT_BATCH}: {@code verdict} for every packet still queued whose id is at most
     * {@code maxId}. Not acknowledged (the answer to a failure arrives with the next {@link #drain}).
     */
    public void verdict(int maxId, int verdict) throws SyscallException {
        send(NfQueueMessages.verdictBatch(queue, ++seq, maxId, verdict), "verdict up to " + Integer.toUnsignedString(maxId));
    }

    private void send(byte[] m, String what) throws SyscallException {
        while (true) {
            long n = NfLib.INSTANCE.send(fd.fd(), m, m.length, 0);
            if (n == m.length) return;
            int e = n < 0 ? Native.getLastError() : Errno.EIO;
            if (e != Errno.EINTR) throw new SyscallException("send(nfnetlink_queue)", e, what);
        }
    }

    /** Whether id {@code a} came after {@code b} (ids are 32-bit and wrap, as the kernel compares them). */
    public static boolean after(int a, int b) {
        return a - b > 0;
    }

    /** Receive-buffer overruns: each lost at least one packet (the kernel dropped it). */
    public long enobufs() {
        return enobufs;
    }

    /** Verdicts the kernel refused (e.g. ENOENT: none of those packets was queued any more), and the last errno. */
    public long verdictErrors() {
        return verdictErrors;
    }

    public int lastVerdictErrno() {
        return lastVerdictErrno;
    }

    /**
     * Closes the socket: the kernel unbinds the queue and drops every packet it still holds (nfnetlink_queue's
     * instance is destroyed with its socket).
     */
    @Override
    public void close() {
        fd.close();
    }

    /** For a message: the queue, or where a failure happened. */
    @Override
    public String toString() {
        return "nfqueue " + queue;
    }
}
