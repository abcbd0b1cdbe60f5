/**
 * ptrace(2): {@link io.checkpointd.linux.ptrace.Ptrace} (seize, interrupt, registers, step, detach) over the
 * package-private raw binding; {@link io.checkpointd.linux.ptrace.StoppedProcess}, which holds every thread of a
 * frozen process in ptrace-stop for one epoch and reads each one's {@link io.checkpointd.linux.ptrace.ThreadState}
 * (registers adjusted for syscall restart as CRIU does, XSAVE area, signal mask) and the queued signals; and
 * {@link io.checkpointd.linux.ptrace.Injector}, which runs one system call inside a stopped thread of an
 * unmodified target (used to give the target a userfaultfd).
 * x86_64 only: register layout and syscall numbers are that architecture's.
 */
package io.checkpointd.linux.ptrace;
