package io.checkpointd.restore.store;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** When the log is worth folding into a new base: a compaction rewrites the whole image, so small epochs wait. */
class CompactionPolicyTest {
    private static final long MB = 1L << 20;

    @Test
    void smallEpochsOfALargeImageWaitUntilTheLogIsAsLarge() {
        assertThat(Compaction.due(32, 10 * MB, () -> 200 * MB)).isFalse();
        assertThat(Compaction.due(500, 199 * MB, () -> 200 * MB)).isFalse();
        assertThat(Compaction.due(500, 200 * MB, () -> 200 * MB)).isTrue();
    }

    @Test
    void aLogOfASmallImageFoldsEvery32Epochs() {
        assertThat(Compaction.due(31, 2 * MB, () -> MB)).as("not before 32 epochs").isFalse();
        assertThat(Compaction.due(32, 2 * MB, () -> MB)).isTrue();
    }

    @Test
    void theEpochCountIsBoundedWhatever() {
        assertThat(Compaction.due(Compaction.MAX_LOG_EPOCHS - 1, MB, () -> 1L << 40)).isFalse();
        assertThat(Compaction.due(Compaction.MAX_LOG_EPOCHS, MB, () -> 1L << 40)).isTrue();
    }

    @Test
    void aLogThatOutgrowsTheImageFoldsEarly() {
        assertThat(Compaction.due(3, 64 * MB, () -> 64 * MB)).isTrue();
        assertThat(Compaction.due(3, 64 * MB, () -> 65 * MB)).isFalse();
        assertThat(Compaction.due(3, 63 * MB, () -> 10 * MB)).as("under 64 MiB and 32 epochs").isFalse();
    }
}
