/**
 * Shipping epochs to the backup: the replication connection over Netty (backpressure, heartbeats), the link that
 * keeps the window of epochs in flight and hears ACKs and NACKs, and the shipper that frames one epoch.
 */
package io.checkpointd.primary.ship;
