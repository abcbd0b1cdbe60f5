package io.checkpointd.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;

class FeaturesTest {
    @Test
    void uffdWriteProtectIsAvailableOnA67PlusKernelAsRoot() {
        assumeTrue(Syscalls.geteuid() == 0, "userfaultfd for kernel faults needs CAP_SYS_PTRACE");
        assumeTrue(kernelAtLeast(6, 7), "kernel older than 6.7");
        assertThat(Features.uffdWriteProtect().isAvailable()).as("%s", Features.uffdWriteProtect()).isTrue();
        assertThat(Features.uffdWriteProtect().unavailabilityCause()).isNull();
    }

    @Test
    void softDirtyMatchesTheKernelConfigAndExplainsItself() throws Exception {
        Optional<Boolean> configured = kernelConfig("CONFIG_MEM_SOFT_DIRTY");
        assumeTrue(configured.isPresent(), "no /proc/config.gz to compare with");
        Feature f = Features.softDirty();
        assertThat(f.isAvailable()).as("%s", f).isEqualTo(configured.get());
        if (!f.isAvailable()) {
            assertThat(f.unavailabilityCause().getMessage()).contains("soft-dirty");
            assertThat(f.toString()).startsWith("soft-dirty: unavailable (");
        }
    }

    @Test
    void probesRunOnceAndDescribeThemselves() {
        assertThat(Features.uffdWriteProtect()).isSameAs(Features.uffdWriteProtect());
        assertThat(Features.all()).hasSize(5);
        assertThat(Features.describe()).contains("uffd-wp-async", "soft-dirty", "ptrace", "nfqueue", "freezer: ");
        if (Syscalls.geteuid() == 0) {
            assertThat(Features.ptrace().isAvailable()).isTrue();
            assertThat(Features.networkNamespaces().isAvailable()).isTrue();
        }
    }

    private static boolean kernelAtLeast(int major, int minor) {
        String[] v = System.getProperty("os.version").split("[.-]");
        int ma = Integer.parseInt(v[0]), mi = Integer.parseInt(v[1]);
        return ma > major || (ma == major && mi >= minor);
    }

    private static Optional<Boolean> kernelConfig(String key) throws Exception {
        Path cfg = Path.of("/proc/config.gz");
        if (!Files.exists(cfg)) return Optional.empty();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(new GZIPInputStream(Files.newInputStream(cfg))))) {
            for (String l; (l = r.readLine()) != null; ) {
                if (l.equals(key + "=y")) return Optional.of(true);
            }
        }
        return Optional.of(false);
    }
}
