/**
 * The parts of CRIU's image format that checkpointd reads and writes, in pure Java over CRIU's MIT-licensed
 * {@code images/*.proto}: the messages are protobuf-java classes generated at build time from those files (vendored
 * in {@code src/main/protobuf}, package {@code io.checkpointd.protocol.image.criu}), image framing ({@link io.checkpointd.protocol.image.ImageFile}), and the images an incremental epoch patches into a
 * base dump: per-thread registers ({@link io.checkpointd.protocol.image.CoreImage} with
 * {@link io.checkpointd.protocol.image.XsaveLayout}), the VMA list ({@link io.checkpointd.protocol.image.MmImage})
 * and the page map ({@link io.checkpointd.protocol.image.Pagemap}), whose {@code PE_LAZY} flags a failover sets where CRIU's
 * dump would ({@link io.checkpointd.protocol.image.LazyFlags}). Every codec round-trips CRIU's bytes exactly
 * (protobuf-java, like protobuf-c, writes fields in number order), keeps fields the .proto files do not know, and
 * changes only the fields it is asked to; everything else in an image directory is treated as opaque files.
 */
package io.checkpointd.protocol.image;
