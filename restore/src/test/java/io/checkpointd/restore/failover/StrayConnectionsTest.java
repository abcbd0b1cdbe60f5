package io.checkpointd.restore.failover;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.protocol.image.ImageFile;
import io.checkpointd.protocol.image.ProtoMessage;
import io.checkpointd.protocol.image.TcpStreamImage;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Connections whose local address is not the service address become closed, unbound sockets and lose their stream
 * image; those on the service address (IPv4, or IPv4-mapped on an IPv6 socket) and listening sockets stay as they are.
 */
class StrayConnectionsTest {
    private static final int FILES_MAGIC = 0x56303138;

    @TempDir
    Path dir;

    @Test
    void onlyConnectionsOnOtherAddressesAreClosed() throws Exception {
        Inet4Address vip = (Inet4Address) InetAddress.getByName("10.1.2.100");
        byte[] other = InetAddress.getByName("10.1.2.1").getAddress();
        List<byte[]> entries = new ArrayList<>();
        entries.add(inet(11, 2, 1, 7000, 40000, vip.getAddress()).encode()); // on the service address: kept
        entries.add(inet(12, 10, 1, 7000, 40001, mapped(vip.getAddress())).encode()); // IPv4-mapped: kept
        entries.add(inet(13, 2, 1, 45000, 5432, other).encode()); // outbound from the host's own address: closed
        entries.add(inet(14, 10, 8, 7000, 40002, mapped(other)).encode()); // CLOSE_WAIT on the host's address: closed
        entries.add(inet(15, 10, 10, 7000, 0, new byte[4]).encode()); // listening: kept
        Files.write(dir.resolve("files.img"), ImageFile.of(FILES_MAGIC, entries).encode());
        for (long ino = 11; ino <= 14; ino++) Files.write(dir.resolve(TcpStreamImage.name(ino)), new byte[] {1});

        assertThat(StrayConnections.close(dir, vip)).containsExactly(13L, 14L);

        ImageFile img = ImageFile.parse(Files.readAllBytes(dir.resolve("files.img")), FILES_MAGIC);
        for (int i = 0; i < img.entryCount(); i++) {
            ProtoMessage ie = img.message(i).message(4);
            long ino = ie.varint(2);
            if (ino == 13 || ino == 14) {
                assertThat(ie.varint(6)).as("state of " + ino).isEqualTo(7);
                assertThat(ie.varint(7)).as("src port of " + ino).isZero();
                assertThat(ie.varint(8)).as("dst port of " + ino).isZero();
                assertThat(ie.varint(19)).as("shutdown of " + ino).isEqualTo(3);
                assertThat(dir.resolve(TcpStreamImage.name(ino))).doesNotExist();
            } else {
                assertThat(img.entry(i)).as("entry " + ino).isEqualTo(entries.get(i));
                if (ino != 15) assertThat(dir.resolve(TcpStreamImage.name(ino))).exists();
            }
        }
    }

    /** A {@code file_entry} holding an {@code inet_sk_entry} with the given inode, family, state, ports, local address. */
    private static ProtoMessage inet(long ino, int family, int state, int srcPort, int dstPort, byte[] src) {
        ProtoMessage ie = new ProtoMessage();
        ie.setVarint(1, ino);
        ie.setVarint(2, ino);
        ie.setVarint(3, family);
        ie.setVarint(4, 1);
        ie.setVarint(5, 6);
        ie.setVarint(6, state);
        ie.setVarint(7, srcPort);
        ie.setVarint(8, dstPort);
        ie.setVarint(9, 2);
        ie.setVarint(10, 0);
        ie.setRepeatedVarints(11, words(src));
        ie.setRepeatedVarints(12, words(new byte[src.length]));
        ProtoMessage fe = new ProtoMessage();
        fe.setVarint(1, 4);
        fe.setVarint(2, ino);
        fe.setMessages(4, List.of(ie));
        return fe;
    }

    private static byte[] mapped(byte[] v4) {
        byte[] a = new byte[16];
        a[10] = (byte) 0xff;
        a[11] = (byte) 0xff;
        System.arraycopy(v4, 0, a, 12, 4);
        return a;
    }

    private static long[] words(byte[] a) {
        long[] w = new long[a.length / 4];
        for (int i = 0; i < w.length; i++) {
            w[i] = (a[4 * i] & 0xffL) | (a[4 * i + 1] & 0xffL) << 8 | (a[4 * i + 2] & 0xffL) << 16 | (a[4 * i + 3] & 0xffL) << 24;
        }
        return w;
    }
}
