package io.checkpointd.restore.failover;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** When a failover restores lazily: by the image's page bytes (not its other files), unless the property says. */
class LazyRestoreTest {
    @AfterEach
    void clear() {
        System.clearProperty(LazyRestore.PROPERTY);
    }

    @Test
    void largeImagesAreRestoredLazilyBySizeOfTheirPages() {
        long big = LazyRestore.AUTO_MIN_BYTES;
        assertThat(LazyRestore.wanted(Map.of("pagemap-7.img", 100L, "pages-1.img", big - 4096, "core-7.img", 8192L))).isFalse();
        assertThat(LazyRestore.wanted(Map.of("pages-1.img", big / 2, "pages-2.img", big / 2))).isTrue();
        assertThat(LazyRestore.wanted(Map.of("pages-1.img", 4096L, "tmpfs-dev-1.tar.gz.img", 2 * big))).isFalse();
    }

    @Test
    void thePropertyForcesItOnOrOff() {
        System.setProperty(LazyRestore.PROPERTY, "on");
        assertThat(LazyRestore.wanted(Map.of("pages-1.img", 4096L))).isTrue();
        System.setProperty(LazyRestore.PROPERTY, "off");
        assertThat(LazyRestore.wanted(Map.of("pages-1.img", 4L * LazyRestore.AUTO_MIN_BYTES))).isFalse();
    }
}
