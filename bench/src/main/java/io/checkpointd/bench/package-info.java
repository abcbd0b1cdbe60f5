/**
 * Benchmark harnesses (not tests): programs that start real processes, drive load and print figures.
 *
 * <ul>
 *   <li>{@link io.checkpointd.bench.RemusBenchmark} ({@code bin/checkpointd-bench}): the demo key-value service
 *       unprotected versus protected through the output-commit proxy at several epoch lengths, with throughput,
 *       client latency, pause per epoch, achieved epochs/s, bytes per epoch and ack time side by side; writes
 *       the "Remus loop" section of {@code docs/benchmarks.md}.</li>
 *   <li>{@link io.checkpointd.bench.PrimarySampler}: per-epoch samples of the primary's published status,
 *       restricted to a measured interval (the daemon's own windows also hold the full sync and warm-up).</li>
 * </ul>
 */
package io.checkpointd.bench;
