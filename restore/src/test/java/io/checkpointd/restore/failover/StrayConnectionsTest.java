package io.checkpointd.restore.failover;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.protocol.image.ImageFile;
import io.checkpointd.protocol.image.TcpStreamImage;
import io.checkpointd.protocol.image.criu.Fdinfo.fd_types;
import io.checkpointd.protocol.image.criu.Fdinfo.file_entry;
import io.checkpointd.protocol.image.criu.SkInet.inet_sk_entry;
import io.checkpointd.protocol.image.criu.Fown.fown_entry;
import io.checkpointd.protocol.image.criu.SkOpts.sk_opts_entry;
import io.checkpointd.protocol.image.criu.SkOpts.sk_shutdown;
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
        List<file_entry> entries = new ArrayList<>();
        entries.add(inet(11, 2, 1, 7000, 40000, vip.getAddress())); // on the service address: kept
        entries.add(inet(12, 10, 1, 7000, 40001, mapped(vip.getAddress()))); // IPv4-mapped: kept
        entries.add(inet(13, 2, 1, 45000, 5432, other)); // outbound from the host's own address: closed
        entries.add(inet(14, 10, 8, 7000, 40002, mapped(other))); // CLOSE_WAIT on the host's address: closed
        entries.add(inet(15, 10, 10, 7000, 0, new byte[4])); // listening: kept
        Files.write(dir.resolve("files.img"), ImageFile.of(FILES_MAGIC, List.of()).withMessages(entries).encode());
        for (long ino = 11; ino <= 14; ino++) Files.write(dir.resolve(TcpStreamImage.name(ino)), new byte[] {1});

        assertThat(StrayConnections.close(dir, vip)).containsExactly(13L, 14L);

        ImageFile img = ImageFile.parse(Files.readAllBytes(dir.resolve("files.img")), FILES_MAGIC);
        for (int i = 0; i < img.entryCount(); i++) {
            inet_sk_entry ie = img.message(i, file_entry.parser()).getIsk();
            long ino = ie.getIno();
            if (ino == 13 || ino == 14) {
                assertThat(ie.getState()).as("state of " + ino).isEqualTo(7);
                assertThat(ie.getSrcPort()).as("src port of " + ino).isZero();
                assertThat(ie.getDstPort()).as("dst port of " + ino).isZero();
                assertThat(ie.getShutdown()).as("shutdown of " + ino).isEqualTo(sk_shutdown.BOTH);
                assertThat(dir.resolve(TcpStreamImage.name(ino))).doesNotExist();
            } else {
                assertThat(img.message(i, file_entry.parser())).as("entry " + ino).isEqualTo(entries.get(i));
                if (ino != 15) assertThat(dir.resolve(TcpStreamImage.name(ino))).exists();
            }
        }
    }

    @Test
    void withAnIpv6ServiceAddressOnlyConnectionsOnItStay() throws Exception {
        InetAddress vip = InetAddress.getByName("fd00:213:7::100");
        byte[] other = InetAddress.getByName("fd00:213:7::1").getAddress();
        List<file_entry> entries = new ArrayList<>();
        entries.add(inet(21, 10, 1, 7000, 40000, vip.getAddress())); // on the service address: kept
        entries.add(inet(22, 10, 1, 45000, 5432, other)); // outbound from the host's own IPv6 address: closed
        entries.add(inet(23, 10, 1, 7000, 40001, mapped(InetAddress.getByName("10.1.2.1").getAddress()))); // IPv4 client: closed
        entries.add(inet(24, 2, 1, 7000, 40002, InetAddress.getByName("10.1.2.1").getAddress())); // IPv4 socket: closed
        entries.add(inet(25, 10, 10, 7000, 0, new byte[16])); // listening on [::]: kept
        Files.write(dir.resolve("files.img"), ImageFile.of(FILES_MAGIC, List.of()).withMessages(entries).encode());
        for (long ino = 21; ino <= 24; ino++) Files.write(dir.resolve(TcpStreamImage.name(ino)), new byte[] {1});

        assertThat(StrayConnections.close(dir, vip)).containsExactly(22L, 23L, 24L);
        assertThat(dir.resolve(TcpStreamImage.name(21))).exists();
        ImageFile img = ImageFile.parse(Files.readAllBytes(dir.resolve("files.img")), FILES_MAGIC);
        assertThat(img.message(0, file_entry.parser())).isEqualTo(entries.get(0));
        assertThat(img.message(4, file_entry.parser())).isEqualTo(entries.get(4));
    }

    /** A {@code file_entry} holding an {@code inet_sk_entry} with the given inode, family, state, ports, local address. */
    private static file_entry inet(int ino, int family, int state, int srcPort, int dstPort, byte[] src) {
        inet_sk_entry ie = inet_sk_entry.newBuilder().setId(ino).setIno(ino).setFamily(family).setType(1).setProto(6).setState(state)
                .setSrcPort(srcPort).setDstPort(dstPort).setFlags(2).setBacklog(0).addAllSrcAddr(words(src))
                .addAllDstAddr(words(new byte[src.length]))
                .setFown(fown_entry.newBuilder().setUid(0).setEuid(0).setSignum(0).setPidType(0).setPid(0))
                .setOpts(sk_opts_entry.newBuilder().setSoSndbuf(4096).setSoRcvbuf(4096).setSoSndTmoSec(0).setSoSndTmoUsec(0)
                        .setSoRcvTmoSec(0).setSoRcvTmoUsec(0).setReuseaddr(true))
                .build();
        return file_entry.newBuilder().setType(fd_types.INETSK).setId(ino).setIsk(ie).build();
    }

    private static byte[] mapped(byte[] v4) {
        byte[] a = new byte[16];
        a[10] = (byte) 0xff;
        a[11] = (byte) 0xff;
        System.arraycopy(v4, 0, a, 12, 4);
        return a;
    }

    private static List<Integer> words(byte[] a) {
        List<Integer> w = new ArrayList<>();
        for (int i = 0; i < a.length / 4; i++) {
            w.add((a[4 * i] & 0xff) | (a[4 * i + 1] & 0xff) << 8 | (a[4 * i + 2] & 0xff) << 16 | (a[4 * i + 3] & 0xff) << 24);
        }
        return w;
    }
}
