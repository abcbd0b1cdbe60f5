package io.checkpointd.primary.engine.fds;

import io.checkpointd.linux.proc.FdInfoFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * What {@code /proc/PID/fdinfo/FD} says of one fd: its file flags (with {@code O_CLOEXEC} standing for the fd's
 * close-on-exec flag), and for an epoll instance its registered targets, for an eventfd its counter.
 *
 * @param flags   {@code flags:} (octal), {@code O_CLOEXEC} included when the fd is close-on-exec
 * @param targets an epoll instance's {@code tfd:} lines
 * @param eventfdCount an eventfd's {@code eventfd-count:} (hex), or -1
 */
record FdInfo(int flags, List<Target> targets, long eventfdCount) {
    static final int O_CLOEXEC = 02000000;
    /** {@code FD_CLOEXEC}, the fd flag CRIU keeps in {@code fdinfo_entry.flags}. */
    static final int FD_CLOEXEC = 1;

    /**
     * One epoll registration: {@code tfd: %d events: %x data: %llx pos:%lli ino:%lx sdev:%x}, what CRIU's
     * proc_parse.c reads into {@code eventpoll_tfd_entry}.
     */
    record Target(int tfd, long events, long data, long pos, long ino, long sdev) {
    }

    /** The file's flags without {@code O_CLOEXEC} (CRIU's {@code fd_parms.flags}). */
    int fileFlags() {
        return flags & ~O_CLOEXEC;
    }

    /** The fd's flags ({@code fdinfo_entry.flags}): {@link #FD_CLOEXEC} or 0. */
    int fdFlags() {
        return (flags & O_CLOEXEC) != 0 ? FD_CLOEXEC : 0;
    }

    static FdInfo read(FdInfoFiles files, int fd) throws IOException {
        return parse(new String(files.read(fd), StandardCharsets.US_ASCII));
    }

    static FdInfo parse(String text) throws IOException {
        int flags = -1;
        long count = -1;
        List<Target> targets = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (line.startsWith("flags:")) {
                flags = Integer.parseInt(line.substring(6).trim(), 8);
            } else if (line.startsWith("eventfd-count:")) {
                count = Long.parseUnsignedLong(line.substring(14).trim(), 16);
            } else if (line.startsWith("tfd:")) {
                targets.add(target(line));
            }
        }
        if (flags < 0) throw new IOException("no flags: in fdinfo: " + text);
        return new FdInfo(flags, List.copyOf(targets), count);
    }

    private static Target target(String line) throws IOException {
        // "tfd:        7 events:       19 data:     7f0c00000007  pos:0 ino:40e sdev:10"
        String[] w = line.replace(":", ": ").trim().split("\\s+");
        long tfd = -1, events = -1, data = -1, pos = -1, ino = -1, sdev = -1;
        for (int i = 0; i + 1 < w.length; i += 2) {
            String v = w[i + 1];
            switch (w[i]) {
                case "tfd:" -> tfd = Long.parseLong(v);
                case "events:" -> events = Long.parseLong(v, 16);
                case "data:" -> data = Long.parseUnsignedLong(v, 16);
                case "pos:" -> pos = Long.parseLong(v);
                case "ino:" -> ino = Long.parseLong(v, 16);
                case "sdev:" -> sdev = Long.parseLong(v, 16);
                default -> throw new IOException("unexpected epoll target line: " + line);
            }
        }
        if (tfd < 0 || events < 0 || ino < 0) throw new IOException("unexpected epoll target line: " + line);
        return new Target((int) tfd, events, data, pos, ino, sdev);
    }
}
