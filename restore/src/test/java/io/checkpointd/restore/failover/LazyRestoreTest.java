package io.checkpointd.restore.failover;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.protocol.image.Pagemap;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * When a failover restores lazily: by the bytes of pages CRIU may leave to the lazy-pages daemon (runs flagged
 * {@code PE_LAZY}), unless the property says.
 */
class LazyRestoreTest {
    @AfterEach
    void clear() {
        System.clearProperty(LazyRestore.PROPERTY);
    }

    @TempDir
    Path tmp;

    @Test
    void imagesWithManyLazyPagesAreRestoredLazily() throws Exception {
        long big = LazyRestore.AUTO_MIN_BYTES / Pagemap.PAGE_SIZE; // pages
        Path lazy = tmp.resolve("lazy"), eager = tmp.resolve("eager");
        Files.createDirectories(lazy);
        Files.createDirectories(eager);
        int both = Pagemap.PE_PRESENT | Pagemap.PE_LAZY;
        Files.write(lazy.resolve("pagemap-7.img"), Pagemap.of(1, List.of(run(0x10000000L, big / 2, both), run(0x7f0000000000L, 10, Pagemap.PE_PRESENT),
                run(0x7f1000000000L, big / 2, Pagemap.PE_PARENT | Pagemap.PE_LAZY))).encode());
        Files.write(eager.resolve("pagemap-7.img"), Pagemap.of(1, List.of(run(0x10000000L, 2 * big, Pagemap.PE_PRESENT),
                run(0x7f0000000000L, big - 1, both))).encode());
        assertThat(LazyRestore.wanted(lazy)).as("half its pages in the image, half in the parent, all lazy").isTrue();
        assertThat(LazyRestore.wanted(eager)).as("most pages present but not lazy (the engine's pagemaps)").isFalse();
    }

    private static Pagemap.Run run(long vaddr, long pages, int flags) {
        return new Pagemap.Run(vaddr, pages, flags, -1);
    }

    @Test
    void thePropertyForcesItOnOrOff() {
        System.setProperty(LazyRestore.PROPERTY, "on");
        assertThat(LazyRestore.wanted(Map.of("pages-1.img", 4096L))).isTrue();
        System.setProperty(LazyRestore.PROPERTY, "off");
        assertThat(LazyRestore.wanted(Map.of("pages-1.img", 4L * LazyRestore.AUTO_MIN_BYTES))).isFalse();
    }
}
