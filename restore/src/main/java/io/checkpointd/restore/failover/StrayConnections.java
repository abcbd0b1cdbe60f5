package io.checkpointd.restore.failover;

import io.checkpointd.protocol.image.ImageFile;
import io.checkpointd.protocol.image.ProtoMessage;
import io.checkpointd.protocol.image.TcpStreamImage;
import java.io.IOException;
import java.net.Inet4Address;
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
    private static final int FILES_MAGIC = 0x56303138, FD_TYPE_INETSK = 4, FILE_ENTRY_ISK = 4;
    // inet_sk_entry fields (images/sk-inet.proto)
    private static final int INO = 2, FAMILY = 3, STATE = 6, SRC_PORT = 7, DST_PORT = 8, SRC_ADDR = 11, SHUTDOWN = 19;
    private static final int AF_INET = 2, AF_INET6 = 10, TCP_CLOSE = 7, TCP_LISTEN = 10, SK_SHUTDOWN_BOTH = 3;

    private StrayConnections() {
    }

    /** Rewrites the connections of {@code images} not local to {@code service}; returns their inodes. */
    static List<Long> close(Path images, Inet4Address service) throws IOException {
        Path files = images.resolve("files.img");
        ImageFile img = ImageFile.parse(Files.readAllBytes(files), FILES_MAGIC);
        List<byte[]> out = new ArrayList<>(img.entryCount());
        List<Long> closed = new ArrayList<>();
        for (int i = 0; i < img.entryCount(); i++) {
            ProtoMessage fe = img.message(i);
            if (fe.varint(1) == FD_TYPE_INETSK && fe.has(FILE_ENTRY_ISK)) {
                ProtoMessage ie = fe.message(FILE_ENTRY_ISK); // a live view
                int state = (int) ie.varint(STATE);
                boolean connected = ie.varint(DST_PORT) != 0 && state != TCP_CLOSE && state != TCP_LISTEN;
                if (connected && !Arrays.equals(local(ie), service.getAddress())) {
                    ie.setVarint(STATE, TCP_CLOSE);
                    ie.setVarint(SRC_PORT, 0);
                    ie.setVarint(DST_PORT, 0);
                    ie.setVarint(SHUTDOWN, SK_SHUTDOWN_BOTH);
                    Files.deleteIfExists(images.resolve(TcpStreamImage.name(ie.varint(INO))));
                    closed.add(ie.varint(INO));
                }
            }
            out.add(fe.encode());
        }
        if (!closed.isEmpty()) Files.write(files, img.withEntries(out).encode());
        return closed;
    }

    /** The IPv4 local address of an entry (of an IPv4 socket, or IPv4-mapped on an IPv6 one); null otherwise. */
    static byte[] local(ProtoMessage ie) {
        long[] w = ie.repeatedVarints(SRC_ADDR);
        byte[] a = new byte[w.length * 4];
        for (int i = 0; i < w.length; i++) for (int k = 0; k < 4; k++) a[4 * i + k] = (byte) (w[i] >>> (8 * k)); // native words
        if (ie.varint(FAMILY) == AF_INET && a.length >= 4) return Arrays.copyOf(a, 4);
        if (ie.varint(FAMILY) == AF_INET6 && a.length == 16) {
            for (int i = 0; i < 10; i++) if (a[i] != 0) return null;
            if (a[10] != (byte) 0xff || a[11] != (byte) 0xff) return null;
            return Arrays.copyOfRange(a, 12, 16);
        }
        return null;
    }
}
