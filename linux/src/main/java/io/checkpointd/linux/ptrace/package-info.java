/**
 * ptrace(2): {@link io.checkpointd.linux.ptrace.Ptrace} (seize, interrupt, registers, step, detach) over the
 * package-private raw binding, and {@link io.checkpointd.linux.ptrace.Injector}, which runs one system call
 * inside a stopped thread of an unmodified target (used to give the target a userfaultfd).
 * x86_64 only: register layout and syscall numbers are that architecture's.
 */
package io.checkpointd.linux.ptrace;
