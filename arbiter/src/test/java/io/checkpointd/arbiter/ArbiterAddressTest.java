package io.checkpointd.arbiter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class ArbiterAddressTest {
    @Test
    void parsesHostsAndBasePath() {
        ArbiterAddress a = ArbiterAddress.parse("zk://10.0.0.1:2181,zk2.example:2182/checkpointd");
        assertThat(a.connectString()).isEqualTo("10.0.0.1:2181,zk2.example:2182");
        assertThat(a.basePath()).isEqualTo("/checkpointd");
        assertThat(a.servicePath("kv-1")).isEqualTo("/checkpointd/kv-1");
        assertThat(ArbiterAddress.parse("zk://[::1]:2181/a/b").basePath()).isEqualTo("/a/b");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "127.0.0.1:2181/checkpointd", "http://h:1/x", "zk://h:2181", "zk:///checkpointd",
            "zk://h/checkpointd", "zk://h:0/x", "zk://h:70000/x", "zk://h:x/x", "zk://h:1,/x", "zk://h:1/",
            "zk://h:1/a/", "zk://h:1/a//b", "zk://h:1/a/../b", "zk://h:1/zookeeper", "zk://h:1/a?x=1", "zk://h h:1/a"})
    void refusesMalformedAddressesWithOneLine(String bad) {
        assertThatThrownBy(() -> ArbiterAddress.parse(bad)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("--arbiter '").hasMessageContaining("e.g. zk://").hasMessageNotContaining("\n");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "-x", ".", "..", "a/b", "a b", "é"})
    void refusesBadServiceIds(String bad) {
        assertThatThrownBy(() -> ArbiterAddress.checkServiceId(bad)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("--service-id");
    }
}
