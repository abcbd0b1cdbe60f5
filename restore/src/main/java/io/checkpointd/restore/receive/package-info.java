/** Receiving epochs from a primary: the replication session protocol on the backup side. */
package io.checkpointd.restore.receive;
