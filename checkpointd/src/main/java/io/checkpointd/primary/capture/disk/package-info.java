/**
 * Data directories: {@link io.checkpointd.primary.capture.disk.DataDirs} is the primary's whole interface
 * to them (pre-copy before the freeze, capture inside the pause, ship after the thaw);
 * {@link io.checkpointd.primary.capture.disk.DataDirTracker} turns inotify hints
 * ({@link io.checkpointd.linux.inotify.DirtyHints}) plus per-block hashes kept between epochs into the ordered
 * {@link io.checkpointd.primary.capture.disk.DirChange}s of one epoch, while the process is frozen;
 * {@link io.checkpointd.primary.capture.disk.DirApplier} replays them on a copy (tests). See docs/design/disk.md.
 */
package io.checkpointd.primary.capture.disk;
