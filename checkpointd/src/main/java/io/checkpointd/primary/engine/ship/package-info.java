/**
 * Shipping: the two kinds of captured epoch (a base dump's, an incremental one's) emitting their records against
 * what the backup holds, with page hashes, batching and XOR against the last shipped pages.
 */
package io.checkpointd.primary.engine.ship;
