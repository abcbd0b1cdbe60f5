package io.checkpointd.linux.systemd;

import com.sun.jna.Native;
import io.checkpointd.linux.FileDescriptor;
import io.checkpointd.linux.SyscallException;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * systemd's readiness protocol ({@code sd_notify(3)}) without libsystemd: one datagram of {@code KEY=VALUE} lines
 * to the unix socket named by {@code $NOTIFY_SOCKET}. A name starting with {@code @} is in the abstract namespace
 * (the {@code @} becomes a NUL byte and the address has no terminating NUL). Used by units of {@code Type=notify}:
 * {@code READY=1} once the daemon listens, {@code STATUS=…} for {@code systemctl status}, {@code STOPPING=1}.
 */
public final class SdNotify {
    private final String socketName;
    private final byte[] address;
    private final int addressLength;

    private SdNotify(String socketName) {
        this.socketName = socketName;
        byte[] path = socketName.getBytes(StandardCharsets.UTF_8);
        boolean abstractName = path[0] == '@';
        if (path[0] != '/' && !abstractName) {
            throw new IllegalArgumentException("NOTIFY_SOCKET is neither a path nor an abstract name: " + socketName);
        }
        if (path.length > (abstractName ? SocketLib.SUN_PATH_MAX : SocketLib.SUN_PATH_MAX - 1)) {
            throw new IllegalArgumentException("NOTIFY_SOCKET is longer than a unix socket address can be: " + socketName);
        }
        address = new byte[2 + SocketLib.SUN_PATH_MAX];
        // sa_family_t in host byte order
        boolean little = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;
        address[little ? 0 : 1] = (byte) SocketLib.AF_UNIX;
        System.arraycopy(path, 0, address, 2, path.length);
        if (abstractName) address[2] = 0;
        // abstract names are exactly their bytes; paths include the terminating NUL
        addressLength = 2 + path.length + (abstractName ? 0 : 1);
    }

    /** The notifier for {@code $NOTIFY_SOCKET}, or empty when the process was not started by a notify-type unit. */
    public static Optional<SdNotify> fromEnvironment() {
        return of(System.getenv("NOTIFY_SOCKET"));
    }

    /** The notifier for a given socket name (as in {@code $NOTIFY_SOCKET}); empty for null or "". */
    public static Optional<SdNotify> of(String socketName) {
        if (socketName == null || socketName.isEmpty()) return Optional.empty();
        return Optional.of(new SdNotify(socketName));
    }

    public String socketName() {
        return socketName;
    }

    /** Sends {@code state} (newline-separated assignments, e.g. {@code "READY=1\nSTATUS=listening"}) as one datagram. */
    public void send(String state) throws SyscallException {
        byte[] msg = state.getBytes(StandardCharsets.UTF_8);
        int fd = SocketLib.INSTANCE.socket(SocketLib.AF_UNIX, SocketLib.SOCK_DGRAM | SocketLib.SOCK_CLOEXEC, 0);
        if (fd < 0) throw new SyscallException("socket(AF_UNIX, SOCK_DGRAM)", Native.getLastError());
        try (FileDescriptor sock = new FileDescriptor(fd, "notify socket")) {
            long n = SocketLib.INSTANCE.sendto(sock.fd(), msg, msg.length, SocketLib.MSG_NOSIGNAL, address, addressLength);
            if (n < 0) throw new SyscallException("sendto", Native.getLastError(), socketName);
        }
    }

    /** {@code READY=1} with a status line. */
    public void ready(String status) throws SyscallException {
        send("READY=1\nSTATUS=" + oneLine(status));
    }

    public void status(String status) throws SyscallException {
        send("STATUS=" + oneLine(status));
    }

    public void stopping(String status) throws SyscallException {
        send("STOPPING=1\nSTATUS=" + oneLine(status));
    }

    private static String oneLine(String s) {
        return s.replace('\n', ' ');
    }
}
