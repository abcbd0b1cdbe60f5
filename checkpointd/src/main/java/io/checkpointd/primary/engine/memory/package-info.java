/**
 * The memory stage: the pre-copy while the process runs, then at the stop the collect of written pages, their
 * presence, and the copy out of the process.
 */
package io.checkpointd.primary.engine.memory;
