/**
 * Reading {@code /proc/PID}: memory maps as {@link io.checkpointd.linux.proc.Vma} records, the thread list,
 * {@code status} fields, fd links and {@code fdinfo}: read with plain system calls ({@code ProcDirect}) into a
 * per-thread native buffer and parsed as bytes, since the incremental engine reads them in every pause.
 */
package io.checkpointd.linux.proc;
