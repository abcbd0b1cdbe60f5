/**
 * The two states an incremental epoch hands from stage to stage, owned by no stage: {@link
 * io.checkpointd.primary.engine.state.Base} (what the last CRIU dump gave, with its {@link
 * io.checkpointd.primary.engine.state.Structure}) and {@link io.checkpointd.primary.engine.state.Reference} (what
 * the backup holds after the last shipped epoch).
 */
package io.checkpointd.primary.engine.state;
