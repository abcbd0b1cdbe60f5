/**
 * File-change hints through {@code inotify(7)}: {@link io.checkpointd.linux.inotify.Inotify} is the raw
 * non-blocking binding, {@link io.checkpointd.linux.inotify.DirWatcher} watches a whole data directory (one
 * watch per directory) and drains events into {@link io.checkpointd.linux.inotify.DirtyHints}. An event queue
 * overflow turns into "everything is dirty", never into a lost change. inotify rather than fanotify: a
 * {@code FAN_MODIFY} mark on a single data directory needs a mount or filesystem mark (events of the whole
 * filesystem, then filtered) and inotify needs no privilege.
 */
package io.checkpointd.linux.inotify;
