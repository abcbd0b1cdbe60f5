package io.checkpointd.linux.systemd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.jna.Library;
import com.sun.jna.Native;
import io.checkpointd.linux.FileDescriptor;
import io.checkpointd.linux.SyscallException;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** sd_notify datagrams arrive, byte for byte, at a path socket and at an abstract one, as systemd would read them. */
class SdNotifyTest {
    /** The receiving end, as systemd's: bind a datagram socket and read what arrived. */
    interface Receiver extends Library {
        Receiver INSTANCE = Native.load("c", Receiver.class);

        int bind(int fd, byte[] addr, int len);

        long recv(int fd, byte[] buf, long len, int flags);
    }

    private static final int MSG_DONTWAIT = 0x40;

    @TempDir
    Path dir;

    @Test
    void sendsReadyAndStatusToAPathSocket() throws Exception {
        String name = dir.resolve("notify").toString();
        try (FileDescriptor rx = bound(name)) {
            SdNotify.of(name).orElseThrow().ready("backup listening on 127.0.0.1:7070");
            assertThat(receive(rx)).isEqualTo("READY=1\nSTATUS=backup listening on 127.0.0.1:7070");
            SdNotify.of(name).orElseThrow().status("replicating\ngeneration 3");
            assertThat(receive(rx)).isEqualTo("STATUS=replicating generation 3");
        }
    }

    @Test
    void sendsToAnAbstractSocket() throws Exception {
        String name = "@checkpointd-test-" + ThreadLocalRandom.current().nextLong(Long.MAX_VALUE);
        try (FileDescriptor rx = bound(name)) {
            SdNotify.of(name).orElseThrow().stopping("stopping");
            assertThat(receive(rx)).isEqualTo("STOPPING=1\nSTATUS=stopping");
        }
    }

    @Test
    void aMissingSocketIsASyscallFailureAndNoSocketIsNoNotifier() {
        assertThatThrownBy(() -> SdNotify.of(dir.resolve("absent").toString()).orElseThrow().send("READY=1"))
                .isInstanceOf(SyscallException.class).hasMessageContaining("sendto").hasMessageContaining("ENOENT");
        assertThat(SdNotify.of(null)).isEmpty();
        assertThat(SdNotify.of("")).isEmpty();
        assertThatThrownBy(() -> SdNotify.of("relative/name")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> SdNotify.of("/" + "x".repeat(200))).isInstanceOf(IllegalArgumentException.class);
    }

    private static FileDescriptor bound(String name) throws SyscallException {
        int fd = SocketLib.INSTANCE.socket(SocketLib.AF_UNIX, SocketLib.SOCK_DGRAM | SocketLib.SOCK_CLOEXEC, 0);
        if (fd < 0) throw new SyscallException("socket", Native.getLastError());
        FileDescriptor sock = new FileDescriptor(fd, "receiver");
        byte[] path = name.getBytes(StandardCharsets.UTF_8);
        byte[] addr = new byte[2 + SocketLib.SUN_PATH_MAX];
        addr[ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? 0 : 1] = SocketLib.AF_UNIX;
        System.arraycopy(path, 0, addr, 2, path.length);
        boolean abstractName = path[0] == '@';
        if (abstractName) addr[2] = 0;
        if (Receiver.INSTANCE.bind(sock.fd(), addr, 2 + path.length + (abstractName ? 0 : 1)) != 0) {
            int e = Native.getLastError();
            sock.close();
            throw new SyscallException("bind", e, name);
        }
        return sock;
    }

    private static String receive(FileDescriptor rx) throws SyscallException {
        byte[] buf = new byte[4096];
        long n = Receiver.INSTANCE.recv(rx.fd(), buf, buf.length, MSG_DONTWAIT);
        if (n < 0) throw new SyscallException("recv", Native.getLastError());
        return new String(Arrays.copyOf(buf, (int) n), StandardCharsets.UTF_8);
    }
}
