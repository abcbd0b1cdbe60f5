/**
 * Freezing a process with the cgroup freezer: {@link io.checkpointd.linux.freezer.Freezer} moves the process
 * into its own cgroup and freezes/thaws it, on cgroup v1 ({@code checkpointd/<pid>}, {@code freezer.state}) or
 * v2 (a leaf {@code checkpointd-freeze-<pid>} inside the process's own cgroup, {@code cgroup.freeze}); {@link io.checkpointd.linux.freezer.FreezerKind#detect()} says which this
 * machine has. Plain file I/O on cgroupfs, no native calls.
 */
package io.checkpointd.linux.freezer;
