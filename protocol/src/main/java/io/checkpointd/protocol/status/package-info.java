/**
 * What daemons publish about themselves: sliding windows of per-epoch figures and the JSON status files read by
 * {@code checkpointd status}.
 */
package io.checkpointd.protocol.status;
