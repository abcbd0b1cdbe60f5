/**
 * Replication messages between primary and backup: the session handshake, and each epoch as
 * EPOCH_BEGIN, EPOCH_DATA records (file chunks, deletions, page deltas keyed by virtual address) and EPOCH_END
 * with a count, a digest and the image manifest, so the backup verifies before it commits.
 */
package io.checkpointd.protocol.replication;
