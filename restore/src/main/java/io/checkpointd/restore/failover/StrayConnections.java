package io.checkpointd.restore.failover;

import io.checkpointd.protocol.image.ImageFile;
import io.checkpointd.protocol.image.TcpStreamImage;
import io.checkpointd.protocol.image.criu.Fdinfo.fd_types;
import io.checkpointd.protocol.image.criu.Fdinfo.file_entry;
import io.checkpointd.protocol.image.criu.SkInet.inet_sk_entry;
import io.checkpointd.protocol.image.criu.SkOpts.sk_shutdown;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Connections of a materialized image that cannot follow the service address to this host: their local address is
 * another one of the old host's (an outbound connection from its own address, a client that reached it by that
 * address). CRIU's repair restore would fail to bind them here, and so fail the whole restore. Each is rewritten
 * the way {@code --tcp-close} leaves a connection: an unbound socket, shut down both ways (state CLOSE, no ports, no
 * stream image), so the process reads end-of-file and its writes fail, as if the peer had gone.
 */
final class StrayConnections {
    private static final int FILES_MAGIC = 0x56303138;
    private static final int AF_INET = 2, AF_INET6 = 10, TCP_CLOSE = 7, TCP_LISTEN = 10;

    private StrayConnections() {
    }

    /** Rewrites the connections of {@code images} not local to {@code service}; returns their inodes. */
    static List<Long> close(Path images, InetAddress service) throws IOException {
        Path files = images.resolve("files.img");
        ImageFile img = ImageFile.parse(Files.readAllBytes(files), FILES_MAGIC);
        List<file_entry> out = new ArrayList<>(img.entryCount());
        List<Long> closed = new ArrayList<>();
        for (int i = 0; i < img.entryCount(); i++) {
            file_entry fe = img.message(i, file_entry.parser());
            if (fe.getType() == fd_types.INETSK && fe.hasIsk()) {
                inet_sk_entry ie = fe.getIsk();
                int state = ie.getState();
                boolean connected = ie.getDstPort() != 0 && state != TCP_CLOSE && state != TCP_LISTEN;
                if (connected && !Arrays.equals(service instanceof Inet6Address ? local6(ie) : local(ie), service.getAddress())) {
                    fe = fe.toBuilder().setIsk(ie.toBuilder().setState(TCP_CLOSE).setSrcPort(0).setDstPort(0).setShutdown(sk_shutdown.BOTH)).build();
                    long ino = Integer.toUnsignedLong(ie.getIno());
                    Files.deleteIfExists(images.resolve(TcpStreamImage.name(ino)));
                    closed.add(ino);
                }
            }
            out.add(fe);
        }
        if (!closed.isEmpty()) Files.write(files, img.withMessages(out).encode());
        return closed;
    }

    /** The IPv4 local address of an entry (of an IPv4 socket, or IPv4-mapped on an IPv6 one); null otherwise. */
    static byte[] local(inet_sk_entry ie) {
        byte[] a = bytes(ie);
        if (ie.getFamily() == AF_INET && a.length >= 4) return Arrays.copyOf(a, 4);
        if (ie.getFamily() == AF_INET6 && a.length == 16) {
            for (int i = 0; i < 10; i++) if (a[i] != 0) return null;
            if (a[10] != (byte) 0xff || a[11] != (byte) 0xff) return null;
            return Arrays.copyOfRange(a, 12, 16);
        }
        return null;
    }

    /** The IPv6 local address of an IPv6 socket's entry (an IPv4-mapped one too, which never equals an IPv6 service); null otherwise. */
    static byte[] local6(inet_sk_entry ie) {
        byte[] a = bytes(ie);
        return ie.getFamily() == AF_INET6 && a.length == 16 ? a : null;
    }

    private static byte[] bytes(inet_sk_entry ie) {
        List<Integer> w = ie.getSrcAddrList();
        byte[] a = new byte[w.size() * 4];
        for (int i = 0; i < w.size(); i++) for (int k = 0; k < 4; k++) a[4 * i + k] = (byte) (w.get(i) >>> (8 * k)); // native words
        return a;
    }
}
