package io.checkpointd.primary.engine.fds;

import io.checkpointd.linux.FileDescriptor;
import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.Syscalls;
import io.checkpointd.linux.net.SockDiag;
import io.checkpointd.linux.net.SocketOptions;
import io.checkpointd.linux.net.TcpRepair;
import io.checkpointd.protocol.image.ImageFile;
import io.checkpointd.protocol.image.criu.Fdinfo.fd_types;
import io.checkpointd.protocol.image.criu.Fdinfo.file_entry;
import io.checkpointd.protocol.image.criu.TcpStream.tcp_stream_entry;
import io.checkpointd.protocol.image.TcpStreamImage;
import java.io.IOException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Reads, with every thread of the process stopped, the repair state of each of its connected TCP sockets, as
 * {@code criu dump --tcp-established} saves it ({@code libsoccr_save}, criu/soccr/soccr.c): on a {@code pidfd_getfd}
 * duplicate, {@code TCP_REPAIR} on, queue lengths, MSS clamp, window scales, timestamp, {@code TCP_REPAIR_WINDOW},
 * each queue's {@code TCP_QUEUE_SEQ} and bytes ({@code MSG_PEEK}), then repair off without a window probe. A queue
 * whose sequence number and length are those of the last read holds the same bytes (sequence space only moves
 * forward), so it is not peeked again. Listening and closed sockets have no stream. A socket of the base dump whose
 * state is no longer the base's cannot be expressed by a stream alone (its {@code inet_sk_entry} would be stale): the
 * epoch then takes a CRIU dump, as for a connection still being opened ({@code SYN_SENT}).
 */
public final class TcpStreams implements AutoCloseable {
    // <netinet/tcp.h> states
    static final int SYN_SENT = 2, FIN_WAIT1 = 4, FIN_WAIT2 = 5, CLOSE = 7, LAST_ACK = 9, LISTEN = 10, CLOSING = 11;
    private static final String SOCKET = "socket:[";
    private static final int FILES_MAGIC = 0x56303138;

    private final int pid;
    private FileDescriptor pidfd;
    /** Inodes known not to be TCP sockets (Unix, UDP …): never asked again. */
    private final Set<Long> notTcp = new HashSet<>();
    /** The last read of each connection, by inode: its queues are reused when their sequence numbers did not move. */
    private Map<Long, Stream> last = new HashMap<>();
    private Map<String, byte[]> statesOf;
    private Map<Long, Integer> baseStates = Map.of();

    /** One connection: its inode, TCP state, and image. */
    public record Stream(long ino, int state, TcpStreamImage image) {
    }

    /** The streams by inode, or why they cannot be expressed. */
    public record Result(Map<Long, Stream> streams, String why) {
    }

    public TcpStreams(int pid) {
        this.pid = pid;
    }

    /**
     * The streams of every connected TCP socket among {@code fds} (fd → link target), checked against the base
     * dump's files ({@code baseFiles}: the state of each socket in its {@code files.img}).
     */
    public Result read(Map<Integer, String> fds, Map<String, byte[]> baseFiles) throws IOException {
        if (baseFiles != statesOf) {
            baseStates = states(baseFiles);
            statesOf = baseFiles;
        }
        Map<Long, Stream> out = new TreeMap<>();
        Set<Long> seen = new HashSet<>();
        for (Map.Entry<Integer, String> e : fds.entrySet()) {
            String t = e.getValue();
            if (!t.startsWith(SOCKET)) continue;
            long ino = Long.parseLong(t.substring(SOCKET.length(), t.length() - 1));
            if (notTcp.contains(ino) || !seen.add(ino)) continue;
            try (FileDescriptor s = dup(e.getKey())) {
                if (s == null) return new Result(null, "open files changed (fd " + e.getKey() + " gone while stopped)");
                if (!isTcp(s)) {
                    notTcp.add(ino);
                    continue;
                }
                int state = SocketOptions.tcpStateAndBackoff(s)[0];
                Integer based = baseStates.get(ino);
                if (based != null && based != state) {
                    return new Result(null, "TCP connection changed state (" + based + " → " + state + ", inode " + ino + ")");
                }
                if (state == LISTEN || state == CLOSE) continue;
                if (state == SYN_SENT) return new Result(null, "TCP connection being opened (inode " + ino + ")");
                out.put(ino, read(s, ino));
            } catch (SyscallException x) {
                return new Result(null, "TCP repair state not readable (inode " + ino + ": " + x.getMessage() + ")");
            }
        }
        last = new HashMap<>(out);
        return new Result(out, null);
    }

    /** {@code libsoccr_save} and {@code dump_tcp_conn_state} on one connection. */
    private Stream read(FileDescriptor s, long ino) throws SyscallException {
        Stream prev = last.get(ino);
        try (TcpRepair r = TcpRepair.on(s)) {
            TcpRepair.Info info = r.info();
            int state = info.state();
            long outq = r.outq(), unsq = r.outqNotSent(), inq;
            if (((1 << state) & (1 << FIN_WAIT1 | 1 << FIN_WAIT2 | 1 << CLOSING | 1 << LAST_ACK)) != 0) {
                if (outq > 0) outq--; // the FIN is no data
                unsq = unsq > 0 ? unsq - 1 : 0;
            }
            inq = r.inq();
            tcp_stream_entry.Builder e = tcp_stream_entry.newBuilder().setInqLen((int) inq).setOutqLen((int) outq);
            int mss = r.mssClamp();
            e.setOptMask(info.options());
            boolean wscale = (info.options() & TcpRepair.TCPI_OPT_WSCALE) != 0;
            e.setSndWscale(wscale ? info.sndWscale() : 0).setMssClamp(mss);
            if (wscale) e.setRcvWscale(info.rcvWscale());
            if ((info.options() & TcpRepair.TCPI_OPT_TIMESTAMPS) != 0) e.setTimestamp(r.timestamp());
            e.setUnsqLen((int) unsq);
            TcpRepair.Window w = r.window();
            if (w != null) {
                e.setSndWl1((int) w.sndWl1()).setSndWnd((int) w.sndWnd()).setMaxWindow((int) w.maxWindow()).setRcvWnd((int) w.rcvWnd())
                        .setRcvWup((int) w.rcvWup());
            }
            int inSeq = (int) r.queueSeq(TcpRepair.TCP_RECV_QUEUE);
            byte[] in = prev != null && prev.image().entry().getInqSeq() == inSeq && prev.image().entry().getInqLen() == (int) inq
                    ? prev.image().inq() : r.peek((int) inq);
            int outSeq = (int) r.queueSeq(TcpRepair.TCP_SEND_QUEUE);
            byte[] out = prev != null && prev.image().entry().getOutqSeq() == outSeq && prev.image().entry().getOutqLen() == (int) outq
                    ? prev.image().outq() : r.peek((int) outq);
            e.setInqSeq(inSeq).setOutqSeq(outSeq);
            return new Stream(ino, state, TcpStreamImage.of(e.build(), in, out));
        }
    }

    private static boolean isTcp(FileDescriptor s) throws SyscallException {
        int domain = SocketOptions.intOpt(s, SocketOptions.SOL_SOCKET, SocketOptions.SO_DOMAIN);
        if (domain != SockDiag.AF_INET && domain != SockDiag.AF_INET6) return false;
        return SocketOptions.intOpt(s, SocketOptions.SOL_SOCKET, SocketOptions.SO_TYPE) == SocketOptions.SOCK_STREAM
                && SocketOptions.intOpt(s, SocketOptions.SOL_SOCKET, SocketOptions.SO_PROTOCOL) == SocketOptions.IPPROTO_TCP;
    }

    /** The state of every inet socket in {@code files.img} of {@code files}, by inode. */
    static Map<Long, Integer> states(Map<String, byte[]> files) throws IOException {
        Map<Long, Integer> out = new HashMap<>();
        byte[] f = files == null ? null : files.get("files.img");
        if (f == null) return out;
        ImageFile img = ImageFile.parse(f, FILES_MAGIC);
        for (int i = 0; i < img.entryCount(); i++) {
            file_entry fe = img.message(i, file_entry.parser());
            if (fe.getType() != fd_types.INETSK || !fe.hasIsk()) continue;
            out.put(Integer.toUnsignedLong(fe.getIsk().getIno()), fe.getIsk().getState());
        }
        return out;
    }

    /** A duplicate of the process's fd, or null if it is gone. */
    private FileDescriptor dup(int fd) throws SyscallException {
        if (pidfd == null) pidfd = Syscalls.pidfdOpen(pid);
        try {
            return Syscalls.pidfdGetfd(pidfd, fd);
        } catch (SyscallException e) {
            if (e.errno() == 9) return null; // EBADF: closed meanwhile
            throw e;
        }
    }

    @Override
    public void close() {
        if (pidfd != null) pidfd.close();
    }
}
