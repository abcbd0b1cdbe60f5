/**
 * The output-commit proxy's control protocol, client side: the primary seals and releases epochs, the backup
 * announces a new generation or unprotected (passthrough) mode. Every request is one {@link io.checkpointd.protocol.Frame}
 * and gets exactly one reply frame, in order.
 */
package io.checkpointd.protocol.control;
