package io.checkpointd.linux.track;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.checkpointd.linux.Features;
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

    @Test
    void autoPrefersUffdWpThenSoftDirtyThenScan() {
        String expect = Trackers.isUsable("uffd-wp") ? "uffd-wp" : Trackers.isUsable("soft-dirty") ? "soft-dirty" : "scan";
        assertThat(Trackers.autoChoice()).startsWith(expect + " (");
    }

    @Test
    void anUnusableKindFailsWithItsReason() {
        if (!Features.softDirty().isAvailable()) {
            assertThat(Trackers.availability().get("soft-dirty")).startsWith("unusable: kernel lacks CONFIG_MEM_SOFT_DIRTY");
            assertThatThrownBy(() -> Trackers.open("soft-dirty", 1)).isInstanceOf(IOException.class)
                    .hasMessageContaining("soft-dirty").hasMessageContaining("CONFIG_MEM_SOFT_DIRTY");
        }
        assertThatThrownBy(() -> Trackers.open("bogus", 1)).isInstanceOf(IOException.class).hasMessageContaining("unknown");
    }
}
