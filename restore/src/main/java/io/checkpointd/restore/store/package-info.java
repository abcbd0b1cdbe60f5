/**
 * The backup's crash-safe image store: verified epoch deltas logged on top of a materialized base image, one
 * atomically replaced STATE file naming what is committed, compaction into a new base, and materialization of
 * the committed image for {@code criu restore}; the replica of the process's data directories, committed with the
 * image ({@link io.checkpointd.restore.store.DataReplica}, replayed by {@link io.checkpointd.restore.store.DirReplay}).
 * The plan of the committed image keeps its page references in persistent tables ({@code PageTable}) and diffs
 * pagemaps run by run ({@code PresentRuns}), so committing an epoch costs what the epoch changed, not the size of
 * the image.
 */
package io.checkpointd.restore.store;
