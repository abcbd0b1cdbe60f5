/**
 * What the backup's failover and the primary need from an optional arbiter: an exclusive lease per protected
 * service and a generation counter that only the lease holder can advance. Heartbeats alone cannot tell a dead
 * primary from a partition; a lease held in a coordination service both sides reach can. The implementation
 * (ZooKeeper through Apache Curator) lives in module {@code arbiter}; without one, the backup decides from
 * heartbeats alone (the embedded default).
 */
package io.checkpointd.restore.arbiter;
