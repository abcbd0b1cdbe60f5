/**
 * Reading {@code /proc/PID}: memory maps as {@link io.checkpointd.linux.proc.Vma} records, the thread list,
 * and {@code status} fields. Plain file parsing, no native calls.
 */
package io.checkpointd.linux.proc;
