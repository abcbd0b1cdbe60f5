package io.checkpointd.linux.net.nfqueue;

import com.sun.jna.Native;
import io.checkpointd.linux.FileDescriptor;
import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.Syscalls;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Runs a piece of code with the calling thread in another process's network namespace ({@code setns} moves one
 * thread only), then moves the thread back. A socket created meanwhile stays in the namespace it was made in.
 */
public final class NetNamespace {
    private static final int CLONE_NEWNET = 0x40000000;

    /** What runs inside the namespace. */
    public interface Action<T> {
        T run() throws IOException;
    }

    private NetNamespace() {
    }

    /** Whether process {@code pid} lives in the calling thread's network namespace. */
    public static boolean isOwn(int pid) throws IOException {
        return Files.readSymbolicLink(Path.of("/proc/" + pid + "/ns/net"))
                .equals(Files.readSymbolicLink(Path.of("/proc/thread-self/ns/net")));
    }

    /** Runs {@code a} in the network namespace of {@code pid} (directly, when that is the thread's own). */
    public static <T> T in(int pid, Action<T> a) throws IOException {
        if (isOwn(pid)) return a.run();
        try (FileDescriptor home = Syscalls.open("/proc/thread-self/ns/net", Syscalls.O_RDONLY);
             FileDescriptor target = Syscalls.open("/proc/" + pid + "/ns/net", Syscalls.O_RDONLY)) {
            enter(target, "pid " + pid);
            try {
                return a.run();
            } finally {
                enter(home, "back to the thread's own");
            }
        }
    }

    private static void enter(FileDescriptor ns, String which) throws SyscallException {
        if (NfLib.INSTANCE.setns(ns.fd(), CLONE_NEWNET) != 0) {
            throw new SyscallException("setns(CLONE_NEWNET)", Native.getLastError(), which);
        }
    }
}
