package io.checkpointd.linux.track;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import org.junit.jupiter.api.Test;

class TrackersTest {
    @Test
    void availabilityExplainsEveryKind() {
        var a = Trackers.availability();
        assertThat(a).containsOnlyKeys("uffd-wp", "soft-dirty", "scan");
        a.values().forEach(v -> assertThat(v).matches("(usable|unusable): .+"));
        assertThat(a.get("scan")).startsWith("usable");
        System.out.println("trackers: " + a + "; auto = " + Trackers.autoChoice());
    }

    /**
     * The expectation comes from {@link KernelFacts}, the test's own probes of the kernel, never from the
     * implementation: a wrong verdict on either kind, or a wrong order of preference, fails here.
     */
    @Test
    void usabilityAndAutoFollowWhatTheKernelOffers() throws IOException {
        String arch = System.getProperty("os.arch");
        assumeTrue(arch.equals("amd64") || arch.equals("x86_64"), "the test's probes use x86_64 system call numbers");
        boolean uffdWp = KernelFacts.uffdWpAsyncWorks() && KernelFacts.ptraceAllowed();
        boolean softDirty = KernelFacts.softDirtyWorks();
        String facts = "probed here: uffd-wp " + uffdWp + ", soft-dirty " + softDirty + "; " + Trackers.availability();

        assertThat(Trackers.isUsable("uffd-wp")).as(facts).isEqualTo(uffdWp);
        assertThat(Trackers.isUsable("soft-dirty")).as(facts).isEqualTo(softDirty);
        assertThat(Trackers.isUsable("scan")).isTrue();
        assertThat(Trackers.availability().get("uffd-wp")).as(facts).startsWith(uffdWp ? "usable: " : "unusable: ");
        assertThat(Trackers.availability().get("soft-dirty")).as(facts).startsWith(softDirty ? "usable: " : "unusable: ");
        String expect = uffdWp ? "uffd-wp" : softDirty ? "soft-dirty" : "scan";
        assertThat(Trackers.autoChoice()).as(facts).startsWith(expect + " (");
    }

    @Test
    void anUnusableKindFailsWithItsReason() throws IOException {
        if (!KernelFacts.softDirtyWorks()) {
            assertThat(Trackers.availability().get("soft-dirty")).startsWith("unusable: kernel lacks CONFIG_MEM_SOFT_DIRTY");
            assertThatThrownBy(() -> Trackers.open("soft-dirty", 1)).isInstanceOf(IOException.class)
                    .hasMessageContaining("soft-dirty").hasMessageContaining("CONFIG_MEM_SOFT_DIRTY");
        }
        assertThatThrownBy(() -> Trackers.open("bogus", 1)).isInstanceOf(IOException.class).hasMessageContaining("unknown");
    }
}
