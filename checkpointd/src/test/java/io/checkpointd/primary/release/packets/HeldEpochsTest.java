package io.checkpointd.primary.release.packets;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class HeldEpochsTest {
    @Test
    void anEpochIsReleasedUpToTheLastIdReadBeforeItsSeal() {
        HeldEpochs h = new HeldEpochs();
        assertThat(h.add(1, 100, 0)).as("first packet of epoch 1").isTrue();
        assertThat(h.add(2, 50, 0)).isFalse();
        h.seal(1);
        assertThat(h.add(3, 10, 0)).as("first packet of epoch 2").isTrue();
        assertThat(h.openEpoch()).isEqualTo(2);
        h.seal(2);
        h.seal(3); // no packets
        h.add(4, 1, 0);
        assertThat(h.heldPackets()).isEqualTo(4);
        assertThat(h.heldBytes()).isEqualTo(161);

        assertThat(h.release(0, 0)).isNull();
        HeldEpochs.Freed f = h.release(1, 0);
        assertThat(f.lastId()).isEqualTo(2);
        assertThat(f.packets()).isEqualTo(2);
        assertThat(h.release(1, 0)).as("released once").isNull();
        f = h.release(3, 0);
        assertThat(f.lastId()).as("epoch 3 held nothing: up to epoch 2's id").isEqualTo(3);
        assertThat(h.heldPackets()).as("the open epoch's packet waits").isEqualTo(1);
        assertThat(h.release(10, 0)).as("an open epoch is never released").isNull();
    }

    @Test
    void dropAllForgetsSealedAndOpenPackets() {
        HeldEpochs h = new HeldEpochs();
        assertThat(h.dropAll()).isEmpty();
        h.add(7, 1, 0);
        h.seal(1);
        h.add(8, 1, 0);
        assertThat(h.dropAll()).hasValue(8);
        assertThat(h.heldPackets()).isZero();
        assertThat(h.release(5, 0)).isNull();
        h.add(9, 1, 0);
        h.seal(2);
        assertThat(h.dropAll()).hasValue(9);
    }
}
