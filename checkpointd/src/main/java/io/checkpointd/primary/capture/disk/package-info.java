/**
 * Data directories (issue 5): {@link io.checkpointd.primary.capture.disk.DataDirTracker} turns inotify hints
 * ({@link io.checkpointd.linux.inotify.DirtyHints}) plus per-block hashes kept between epochs into the ordered
 * {@link io.checkpointd.primary.capture.disk.DirChange}s of one epoch, while the process is frozen;
 * {@link io.checkpointd.primary.capture.disk.DirApplier} replays them on a copy. See docs/design/disk.md.
 */
package io.checkpointd.primary.capture.disk;
