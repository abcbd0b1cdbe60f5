package io.checkpointd.restore.receive;

/**
 * When the backup acknowledges an epoch ({@code backup --ack}), which is when the primary's proxy releases its output.
 */
public enum AckMode {
    /**
     * Once the epoch is complete, verified and applied in the backup's memory (Remus): the protected state survives
     * the failure of either host, not of both; the epoch is made durable right after, in a group commit.
     */
    MEMORY,
    /** Once the epoch is durable on the backup's disk (group-committed: one fsync for the epochs that arrived meanwhile). */
    DURABLE;

    /** The command-line word. */
    @Override
    public String toString() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
