/**
 * The backup side of checkpointd: {@link io.checkpointd.restore.BackupDaemon} receives and commits epochs,
 * watches the primary, and fails over; {@code store}, {@code receive} and {@code failover} hold the parts.
 */
package io.checkpointd.restore;
