/**
 * How the primary captures an epoch: {@link io.checkpointd.primary.engine.CaptureEngine} and its two engines, the
 * full-dump one and the incremental one, whose stages live in the sub-packages; and the tuning settings
 * ({@link io.checkpointd.primary.engine.EngineSettings}).
 */
package io.checkpointd.primary.engine;
