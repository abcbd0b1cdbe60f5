/**
 * Image patching: the base dump's image files brought to an incremental epoch (thread registers, open files'
 * positions and sizes, the pagemap, an anonymous-only memory map change).
 */
package io.checkpointd.primary.engine.patch;
