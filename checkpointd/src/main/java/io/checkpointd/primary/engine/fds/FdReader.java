package io.checkpointd.primary.engine.fds;

import io.checkpointd.linux.FileDescriptor;
import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.Syscalls;
import io.checkpointd.linux.net.SockDiag;
import io.checkpointd.linux.net.SocketOptions;
import io.checkpointd.linux.proc.FdInfoFiles;
import io.checkpointd.linux.proc.ProcFiles;
import io.checkpointd.protocol.image.criu.Eventfd.eventfd_file_entry;
import io.checkpointd.protocol.image.criu.Eventpoll.eventpoll_file_entry;
import io.checkpointd.protocol.image.criu.Eventpoll.eventpoll_tfd_entry;
import io.checkpointd.protocol.image.criu.Fdinfo.file_entry;
import io.checkpointd.protocol.image.criu.Pipe.pipe_entry;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Reads, with every thread of the process stopped, how its fd table differs from the base dump's and what CRIU's
 * image needs for each new fd: TCP sockets (IPv4 and IPv6, listening or connected) from {@code sock_diag} and a
 * {@code pidfd_getfd} duplicate, epoll instances and eventfds from fdinfo, empty pipes; and every epoll fd's
 * registrations. Closed fds of any kind are expressible. Anything else (a regular file, a pipe with data in flight, a
 * Unix socket, a UDP socket, a socket of another network namespace) is {@link Unsupported}: the epoch takes a CRIU dump.
 */
public final class FdReader implements AutoCloseable {
    private static final String SOCKET = "socket:[", PIPE = "pipe:[", EPOLL = "anon_inode:[eventpoll]", EVENTFD = "anon_inode:[eventfd]";

    private static final int O_DIRECT = 040000;

    private final int pid;
    private FileDescriptor pidfd;
    /** Every TCP socket, when a lookup by tuple missed in this read (else null). */
    private Map<Long, SockDiag.InetSock> dumped;

    /** The result of a read: the changes, or why they cannot be expressed (a status reason) and for which fd. */
    public record Result(FdChanges changes, String why) {
    }

    /** The fdinfo files of the process, kept open across pauses (also for {@code OpenFiles}). */
    private final FdInfoFiles fdInfo;

    public FdReader(int pid) {
        this.pid = pid;
        this.fdInfo = new FdInfoFiles(pid);
    }

    /** The process's fdinfo files, kept open across pauses: close what {@code now}'s fd table no longer has. */
    public FdInfoFiles fdInfo(Set<Integer> now) {
        fdInfo.retain(now);
        return fdInfo;
    }

    /**
     * Whether {@code now} holds an fd, new or pointing elsewhere than in {@code base}, of a kind {@link #read} can
     * never express (judged by its link alone; a socket may still turn out to be Unix or UDP).
     */
    public static boolean hasInexpressible(Map<Integer, String> base, Map<Integer, String> now) {
        for (Map.Entry<Integer, String> e : now.entrySet()) {
            String t = e.getValue();
            if (t.equals(base.get(e.getKey()))) continue;
            if (!t.startsWith(SOCKET) && !t.startsWith(PIPE) && !t.equals(EPOLL) && !t.equals(EVENTFD)) return true;
        }
        return false;
    }

    /** The changes from {@code base} to {@code now} (fd → link target), with every epoll fd's registrations. */
    public Result read(Map<Integer, String> base, Map<Integer, String> now) throws IOException {
        Set<Integer> closed = new TreeSet<>();
        List<Integer> opened = new ArrayList<>();
        for (Map.Entry<Integer, String> e : base.entrySet()) {
            String t = now.get(e.getKey());
            if (t == null || !t.equals(e.getValue())) closed.add(e.getKey());
        }
        for (Map.Entry<Integer, String> e : now.entrySet()) {
            if (!e.getValue().equals(base.get(e.getKey()))) opened.add(e.getKey());
        }
        Map<Integer, List<eventpoll_tfd_entry>> epolls = new TreeMap<>();
        Map<Integer, FdChanges.Opened> out = new TreeMap<>();
        try {
            for (Map.Entry<Integer, String> e : now.entrySet()) {
                if (e.getValue().equals(EPOLL)) epolls.put(e.getKey(), targets(e.getKey(), FdInfo.read(fdInfo, e.getKey()), now));
            }
            dumped = null;
            boolean netnsChecked = false;
            for (int fd : opened) {
                String target = now.get(fd);
                FdInfo info = FdInfo.read(fdInfo, fd);
                if (target.startsWith(SOCKET)) {
                    if (!netnsChecked) {
                        checkSameNetns();
                        netnsChecked = true;
                    }
                    out.put(fd, socket(fd, target, info));
                } else if (target.startsWith(PIPE)) {
                    out.put(fd, pipe(fd, target, info));
                } else if (target.equals(EPOLL)) {
                    out.put(fd, epoll(fd, info, epolls.get(fd)));
                } else if (target.equals(EVENTFD)) {
                    out.put(fd, eventfd(fd, info));
                } else {
                    throw new Unsupported(kindOf(target), "fd " + fd + " → " + target);
                }
            }
        } catch (Unsupported u) {
            return new Result(null, "open file not captured: " + u.kind + " (" + u.getMessage() + ")");
        } catch (java.nio.file.NoSuchFileException gone) {
            return new Result(null, "open files changed (" + gone.getMessage() + " gone while stopped)");
        }
        return new Result(new FdChanges(closed, out, epolls), null);
    }

    private FdChanges.Opened socket(int fd, String target, FdInfo info) throws IOException, Unsupported {
        long ino = Long.parseLong(target.substring(SOCKET.length(), target.length() - 1));
        try (FileDescriptor dup = dup(fd)) {
            int domain = SocketOptions.intOpt(dup, SocketOptions.SOL_SOCKET, SocketOptions.SO_DOMAIN);
            int type = SocketOptions.intOpt(dup, SocketOptions.SOL_SOCKET, SocketOptions.SO_TYPE);
            int proto = SocketOptions.intOpt(dup, SocketOptions.SOL_SOCKET, SocketOptions.SO_PROTOCOL);
            if (domain != SockDiag.AF_INET && domain != SockDiag.AF_INET6) throw new Unsupported(domainName(domain) + " socket", "fd " + fd);
            if (type != SocketOptions.SOCK_STREAM || proto != SocketOptions.IPPROTO_TCP) throw new Unsupported("non-TCP inet socket", "fd " + fd);
            // CLOSE (neither listening nor connected, or reset) is the one state of an fd CRIU does not ask sock_diag
            // for: it describes the socket itself, and gives it no namespace id
            boolean listed = SocketOptions.tcpStateAndBackoff(dup)[0] != SockDiag.TCP_CLOSE;
            SockDiag.InetSock sk = listed ? listed(dup, domain, ino) : InetEntry.unhashed(dup, domain, ino);
            if (sk.family() != domain) throw new Unsupported("TCP socket changing family", "fd " + fd);
            return new FdChanges.Opened(FdChanges.INETSK, info.fdFlags(), file_entry.ISK_FIELD_NUMBER,
                    InetEntry.of(dup, sk, info.fileFlags()), listed);
        }
    }

    /**
     * {@code pipe_entry} (CRIU's images/pipe.proto) of one end of a pipe: pipe id (its inode), file flags, owner; no
     * id yet. Only an empty pipe: bytes in flight would need CRIU's {@code pipes-data.img} (and a {@code tee} to read
     * them without taking them), and packet mode ({@code O_DIRECT}) CRIU refuses too.
     */
    private FdChanges.Opened pipe(int fd, String target, FdInfo info) throws IOException, Unsupported {
        if ((info.fileFlags() & O_DIRECT) != 0) throw new Unsupported("pipe in packet mode", "fd " + fd);
        pipe_entry.Builder e = pipe_entry.newBuilder()
                .setPipeId((int) Long.parseLong(target.substring(PIPE.length(), target.length() - 1)))
                .setFlags(info.fileFlags());
        try (FileDescriptor dup = dup(fd)) {
            int queued = io.checkpointd.linux.Pipes.bytesQueued(dup);
            if (queued > 0) throw new Unsupported("pipe with data in flight", "fd " + fd + ": " + queued + " bytes");
            e.setFown(Fown.of(dup));
        }
        return new FdChanges.Opened(FdChanges.PIPE, info.fdFlags(), file_entry.PIPE_FIELD_NUMBER, e.buildPartial(), false);
    }

    /**
     * A listening, connected or closing socket as {@code sock_diag} reports it: looked up by its own tuple (cheap
     * whatever the host's TIME_WAIT count), or, if that finds another socket (a {@code SO_REUSEPORT} group), from
     * a dump of every TCP socket, read once per stop.
     */
    private SockDiag.InetSock listed(FileDescriptor dup, int domain, long ino) throws IOException, Unsupported {
        SockDiag.InetSock sk = SockDiag.lookup(dup, domain);
        if (sk != null && sk.inode() == ino) return sk;
        if (dumped == null) dumped = SockDiag.tcp();
        sk = dumped.get(ino);
        if (sk == null) throw new Unsupported("TCP socket in no table", "inode " + ino);
        return sk;
    }

    /** {@code eventpoll_file_entry} (CRIU's images/eventpoll.proto): flags, owner, registrations; no id yet. */
    private FdChanges.Opened epoll(int fd, FdInfo info, List<eventpoll_tfd_entry> targets) throws IOException, Unsupported {
        eventpoll_file_entry.Builder e = eventpoll_file_entry.newBuilder().setFlags(info.fileFlags());
        try (FileDescriptor dup = dup(fd)) {
            e.setFown(Fown.of(dup));
        }
        e.addAllTfd(targets);
        return new FdChanges.Opened(FdChanges.EVENTPOLL, info.fdFlags(), file_entry.EPFD_FIELD_NUMBER, e.buildPartial(), false);
    }

    /** {@code eventfd_file_entry} (CRIU's images/eventfd.proto): flags, owner, counter; no id yet. */
    private FdChanges.Opened eventfd(int fd, FdInfo info) throws IOException, Unsupported {
        if (info.eventfdCount() < 0) throw new Unsupported("eventfd without a count", "fd " + fd);
        eventfd_file_entry.Builder e = eventfd_file_entry.newBuilder().setFlags(info.fileFlags());
        try (FileDescriptor dup = dup(fd)) {
            e.setFown(Fown.of(dup));
        }
        e.setCounter(info.eventfdCount());
        return new FdChanges.Opened(FdChanges.EVENTFD, info.fdFlags(), file_entry.EFD_FIELD_NUMBER, e.buildPartial(), false);
    }

    /**
     * An epoll fd's registrations as {@code eventpoll_tfd_entry} messages, the way CRIU's proc_parse.c fills them
     * ({@code id} 0; {@code dev}, {@code inode}, {@code pos} as fdinfo prints them). A target that is no longer one
     * of the process's fds (closed but still registered through a duplicate elsewhere, its number maybe reused) is
     * not handled.
     */
    private static List<eventpoll_tfd_entry> targets(int epfd, FdInfo info, Map<Integer, String> now) throws Unsupported {
        List<eventpoll_tfd_entry> out = new ArrayList<>(info.targets().size());
        for (FdInfo.Target t : info.targets()) {
            String link = now.get(t.tfd());
            if (link == null || !sameInode(link, t.ino())) {
                throw new Unsupported("epoll target not open", "epoll fd " + epfd + " target " + t.tfd() + " → " + link);
            }
            out.add(eventpoll_tfd_entry.newBuilder().setId(0).setTfd(t.tfd()).setEvents((int) t.events()).setData(t.data())
                    .setDev((int) t.sdev()).setInode(t.ino()).setPos(t.pos()).build());
        }
        return out;
    }

    /**
     * Whether a link naming an inode ({@code socket:[N]}, {@code pipe:[N]}) names {@code ino}: a registered file closed
     * and its fd number reused for another socket must not pass for the registration's target. Other links (anon
     * inodes share one inode; paths) are taken as they are.
     */
    static boolean sameInode(String link, long ino) {
        int b = link.indexOf(":["), e = link.length() - 1;
        if (b < 0 || link.charAt(e) != ']' || link.startsWith("anon_inode:")) return true;
        try {
            return Long.parseLong(link.substring(b + 2, e)) == ino;
        } catch (NumberFormatException notANumber) {
            return true;
        }
    }

    private FileDescriptor dup(int fd) throws IOException, Unsupported {
        try {
            if (pidfd == null) pidfd = Syscalls.pidfdOpen(pid);
            return Syscalls.pidfdGetfd(pidfd, fd);
        } catch (SyscallException e) {
            throw new Unsupported("fd not duplicable", "pidfd_getfd of fd " + fd + ": " + e.getMessage());
        }
    }

    /** sock_diag answers for this process's network namespace: the target's must be the same. */
    private void checkSameNetns() throws IOException, Unsupported {
        String theirs = ProcFiles.readlink("/proc/" + pid + "/ns/net"), ours = ProcFiles.readlink("/proc/self/ns/net");
        if (!theirs.equals(ours)) throw new Unsupported("socket in another network namespace", theirs);
    }

    private static String kindOf(String target) {
        if (target.startsWith("/")) return "regular file";
        if (target.startsWith("pipe:")) return "pipe";
        if (target.startsWith("anon_inode:")) return target.substring("anon_inode:".length()).replace("[", "").replace("]", "");
        return target.replaceAll("[:\\[].*", "");
    }

    private static String domainName(int domain) {
        return switch (domain) {
            case 1 -> "Unix";
            case 16 -> "netlink";
            case 17 -> "packet";
            default -> "family " + domain;
        };
    }

    @Override
    public void close() {
        if (pidfd != null) pidfd.close();
        fdInfo.close();
    }
}
