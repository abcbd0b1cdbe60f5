package io.checkpointd.linux.net;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The advertisement's bytes: IPv6 header, ICMPv6 type 136 with the override flag, the option, a valid checksum. */
class NeighborAdvertTest {
    @Test
    void theAdvertisementIsAValidUnsolicitedOverride() throws Exception {
        byte[] ip = InetAddress.getByName("fd00:213:7::100").getAddress();
        byte[] mac = {2, 0x42, 0x0a, 0x0b, 0x0c, 0x0d};
        byte[] p = NeighborAdvert.packet(mac, ip);
        assertThat(p).hasSize(72);
        assertThat(p[0] >>> 4).as("version").isEqualTo(6);
        assertThat(((p[4] & 0xff) << 8) | (p[5] & 0xff)).as("payload length").isEqualTo(32);
        assertThat(p[6] & 0xff).as("next header: ICMPv6").isEqualTo(58);
        assertThat(p[7] & 0xff).as("hop limit: receivers drop anything but 255").isEqualTo(255);
        assertThat(Arrays.copyOfRange(p, 8, 24)).as("source").isEqualTo(ip);
        assertThat(Arrays.copyOfRange(p, 24, 40)).as("destination").isEqualTo(InetAddress.getByName("ff02::1").getAddress());
        assertThat(p[40] & 0xff).as("type").isEqualTo(136);
        assertThat(p[41]).as("code").isZero();
        assertThat(p[44] & 0xe0).as("flags: override only (a solicited flag to ff02::1 is dropped)").isEqualTo(0x20);
        assertThat(Arrays.copyOfRange(p, 48, 64)).as("target").isEqualTo(ip);
        assertThat(Arrays.copyOfRange(p, 64, 72)).as("target link-layer address option")
                .isEqualTo(new byte[] {2, 1, 2, 0x42, 0x0a, 0x0b, 0x0c, 0x0d});
        // RFC 1071: the one's-complement sum over pseudo-header and message, checksum included, is all ones
        byte[] pseudo = new byte[40 + 32];
        System.arraycopy(p, 8, pseudo, 0, 32); // source and destination
        pseudo[35] = 32; // upper-layer length
        pseudo[39] = 58; // next header
        System.arraycopy(p, 40, pseudo, 40, 32);
        long sum = 0;
        for (int i = 0; i < pseudo.length; i += 2) sum += ((pseudo[i] & 0xff) << 8) | (pseudo[i + 1] & 0xff);
        while ((sum >>> 16) != 0) sum = (sum & 0xffff) + (sum >>> 16);
        assertThat(sum).as("checksum").isEqualTo(0xffff);
    }
}
