package io.checkpointd.linux.net.nfqueue;

import com.sun.jna.Native;
import io.checkpointd.linux.FileDescriptor;
import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.Syscalls;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Sets {@code SO_MARK} on every socket a process has open, from outside ({@code pidfd_getfd} duplicates the socket:
 * same socket, same mark). A socket's cgroup is fixed when it is created, so moving a process into a cgroup does
 * not select the sockets it already has for {@code -m cgroup}; its packets carry the socket's mark instead, and a
 * TCP connection accepted later inherits the mark of its listening socket.
 */
public final class SocketMarks {
    private static final int SOL_SOCKET = 1, SO_MARK = 36;

    private SocketMarks() {
    }

    /**
     * Marks the sockets of {@code pid} with {@code mark}. Fds that close meanwhile are skipped.
     *
     * @return how many sockets were marked
     */
    public static int markAll(int pid, int mark) throws IOException {
        int marked = 0;
        try (FileDescriptor pidfd = Syscalls.pidfdOpen(pid);
             DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc/" + pid + "/fd"))) {
            for (Path p : fds) {
                String target;
                try {
                    target = Files.readSymbolicLink(p).toString();
                } catch (NoSuchFileException e) {
                    continue; // closed meanwhile
                }
                if (!target.startsWith("socket:")) continue;
                FileDescriptor dup;
                try {
                    dup = Syscalls.pidfdGetfd(pidfd, Integer.parseInt(p.getFileName().toString()));
                } catch (SyscallException e) {
                    if (e.errno() == io.checkpointd.linux.Errno.EBADF) continue; // closed meanwhile
                    throw e;
                }
                try (dup) {
                    if (NfLib.INSTANCE.setsockopt(dup.fd(), SOL_SOCKET, SO_MARK, new int[] {mark}, 4) != 0) {
                        throw new SyscallException("setsockopt(SO_MARK)", Native.getLastError(), "fd " + p.getFileName() + " of pid " + pid);
                    }
                }
                marked++;
            }
        }
        return marked;
    }
}
