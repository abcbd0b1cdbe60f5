/** The incremental engine's counters and pause-phase timings for {@code status}. */
package io.checkpointd.primary.engine.status;
