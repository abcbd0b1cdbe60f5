package io.checkpointd.cli;

import java.util.Locale;

/**
 * The enumerated options of {@code protect}, parsed by picocli: each constant's {@link #word} (its name in lower
 * case, '-' for '_', returned by {@code toString()}) is what the command line gives and the help shows.
 */
final class Choices {
    private Choices() {
    }

    /** The command-line word of {@code c}. */
    static String word(Enum<?> c) {
        return c.name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** {@code --engine}. */
    enum Engine {
        INCREMENTAL, FULL;

        @Override
        public String toString() {
            return word(this);
        }
    }

    /** {@code --tracker}: auto, or one of {@link io.checkpointd.linux.track.Trackers#KINDS}. */
    enum Tracker {
        AUTO, UFFD_WP, SOFT_DIRTY, SCAN;

        @Override
        public String toString() {
            return word(this);
        }
    }

    /** {@code --on-exit}. */
    enum OnExit {
        FAILOVER, STOP;

        @Override
        public String toString() {
            return word(this);
        }
    }

    /** {@code --on-backup-loss}. */
    enum OnBackupLoss {
        STALL, CONTINUE;

        @Override
        public String toString() {
            return word(this);
        }
    }

    /** {@code --epoch-end}. */
    enum EpochEnd {
        OUTPUT, INTERVAL;

        @Override
        public String toString() {
            return word(this);
        }
    }

    /** {@code --hold}: where output waits for its epoch's ack. */
    enum Hold {
        PROXY, PACKETS;

        @Override
        public String toString() {
            return word(this);
        }
    }
}
