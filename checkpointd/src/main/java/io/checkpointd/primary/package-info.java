/**
 * The primary: {@link io.checkpointd.primary.Primary} runs the epoch loop (freeze, seal, capture, thaw, delta,
 * ship, release on ack); {@code capture} computes deltas between captures, {@code ship} talks to the backup,
 * {@code release} to the output-commit proxy.
 */
package io.checkpointd.primary;
