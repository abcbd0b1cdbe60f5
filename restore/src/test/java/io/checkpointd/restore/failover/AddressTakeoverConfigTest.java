package io.checkpointd.restore.failover;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.Inet4Address;
import java.net.Inet6Address;
import org.junit.jupiter.api.Test;

/** {@code --service-address}: an IPv4 or IPv6 literal with its family's prefix range; nothing resolved. */
class AddressTakeoverConfigTest {
    @Test
    void ipv4AndIpv6AddressesParse() {
        AddressTakeover.Config v4 = AddressTakeover.Config.parse("10.1.2.100/24", "eth0");
        assertThat(v4.address()).isInstanceOf(Inet4Address.class);
        assertThat(v4.ipv6()).isFalse();
        assertThat(v4.toString()).isEqualTo("10.1.2.100/24 on eth0");
        AddressTakeover.Config v6 = AddressTakeover.Config.parse("fd00:213:7::100/64", "eth0");
        assertThat(v6.address()).isInstanceOf(Inet6Address.class);
        assertThat(v6.ipv6()).isTrue();
        assertThat(v6.prefix()).isEqualTo(64);
        assertThat(v6.ip()).isEqualTo("fd00:213:7:0:0:0:0:100");
    }

    @Test
    void eachFamilyHasItsPrefixRange() {
        assertThat(AddressTakeover.Config.parse("fd00::1/128", "eth0").prefix()).isEqualTo(128);
        assertThatThrownBy(() -> AddressTakeover.Config.parse("10.0.0.1/33", "eth0")).hasMessageContaining("1-32");
        assertThatThrownBy(() -> AddressTakeover.Config.parse("fd00::1/0", "eth0")).hasMessageContaining("1-128");
        assertThatThrownBy(() -> AddressTakeover.Config.parse("ff02::1/64", "eth0")).hasMessageContaining("cannot be a service address");
    }
}
