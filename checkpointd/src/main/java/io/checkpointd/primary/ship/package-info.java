/** Shipping epochs to the backup over Netty, with backpressure and heartbeats. */
package io.checkpointd.primary.ship;
