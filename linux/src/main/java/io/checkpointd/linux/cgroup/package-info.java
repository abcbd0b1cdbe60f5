/**
 * Cgroups a process is put in by checkpointd other than the freezer: where a restored service runs
 * ({@link io.checkpointd.linux.cgroup.Placement}), a transient systemd scope or a cgroup v2 directory of its own,
 * never the backup daemon's.
 */
package io.checkpointd.linux.cgroup;
