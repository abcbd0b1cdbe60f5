/**
 * Freezing a process with the cgroup freezer: {@link io.checkpointd.linux.freezer.Freezer} moves the process
 * into its own cgroup {@code checkpointd/<pid>} and freezes/thaws it, on cgroup v1 ({@code freezer.state}) or
 * v2 ({@code cgroup.freeze}); {@link io.checkpointd.linux.freezer.FreezerKind#detect()} says which this
 * machine has. Plain file I/O on cgroupfs, no native calls.
 */
package io.checkpointd.linux.freezer;
