/**
 * The parts of CRIU's image format that checkpointd reads to compare and rebuild memory page by page
 * (pagemap and pages images). Everything else in an image directory is treated as opaque files.
 */
package io.checkpointd.protocol.image;
