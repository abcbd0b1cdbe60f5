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

    @Test
    void concurrentCallsFromSeveralThreadsAllSucceed() throws Exception {
        Criu criu = CriuTestSupport.assumeCriu();
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(4);
        try {
            java.util.List<java.util.concurrent.Future<Map<String, Boolean>>> fs = new java.util.ArrayList<>();
            for (int i = 0; i < 8; i++) fs.add(pool.submit(criu::featureCheck));
            for (var f : fs) assertThat(f.get()).containsKey("pidfd_store");
        } finally {
            pool.shutdownNow();
        }
    }
}
