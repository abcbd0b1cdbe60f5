/** Capturing a checkpoint and computing what changed since the previous one. */
package io.checkpointd.primary.capture;
