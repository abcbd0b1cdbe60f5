package io.checkpointd.linux.criu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

class CriuCheckTest {
    @Test
    void checkPassesAndVersionIs42() throws Exception {
        Criu criu = CriuTestSupport.assumeCriu();
        criu.check();
        assertThat(criu.version().major()).isEqualTo(4);
        assertThat(criu.version().minor()).isEqualTo(2);
        assertThat(criu.binary()).isAbsolute().isExecutable();
        assertThat(criu.library()).isAbsolute().exists();
    }

    @Test
    void featureCheckReturnsTheThreeFeatures() throws Exception {
        Criu criu = CriuTestSupport.assumeCriu();
        Map<String, Boolean> f = criu.featureCheck();
        assertThat(f).containsOnlyKeys("mem_track", "lazy_pages", "pidfd_store");
        System.out.println("criu feature check: " + f);
    }
}
