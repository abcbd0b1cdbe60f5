/**
 * The demo service that checkpointd protects, and the client side that proves it works.
 *
 * <ul>
 *   <li>{@link io.checkpointd.demo.KvServer}: a small TCP key-value server that depends on nothing but
 *       the JDK, so it runs as its own small JVM and is cheap to checkpoint with CRIU. It holds no file
 *       open for writing and uses no wall-clock timers, so a checkpoint/restore (even onto another host)
 *       leaves it working; connections that come back broken after a restore are simply dropped.</li>
 *   <li>{@link io.checkpointd.demo.KvClient}: one blocking connection with timeouts.</li>
 *   <li>{@link io.checkpointd.demo.KvWorkload}: many writer threads with per-key acknowledged-write
 *       bookkeeping, reconnect-and-retry on failures, and
 *       {@link io.checkpointd.demo.KvWorkload#verify verify}: no acknowledged write may be lost.</li>
 *   <li>{@link io.checkpointd.demo.LoadGenerator} and {@link io.checkpointd.demo.KvLoad}: fixed-duration
 *       or fixed-count runs reporting throughput and latency percentiles for benchmarks.</li>
 * </ul>
 *
 * <p>Wire protocol (UTF-8, one request per line, one reply line each, pipelining allowed): see
 * {@link io.checkpointd.demo.KvProtocol}.
 */
package io.checkpointd.demo;
