/**
 * checkpointd's wire: one checksummed, optionally LZ4-compressed frame format ({@link io.checkpointd.protocol.FrameCodec})
 * for replication (primary ↔ backup) and output-commit control (primary/backup → proxy), tagged with
 * generation and epoch so a stale sender can be recognised and ignored, and — unless a process runs with
 * --insecure-plaintext — MAC'd per connection ({@link io.checkpointd.protocol.auth}).
 */
package io.checkpointd.protocol;
