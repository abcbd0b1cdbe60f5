/**
 * ptrace(2): {@link io.checkpointd.linux.ptrace.Ptrace} (seize, interrupt, registers, step, detach) over the
 * package-private raw bindings (interface-mapped {@code PtraceLib}, direct-mapped {@code PtraceDirect} for the
 * per-thread calls of every epoch); {@link io.checkpointd.linux.ptrace.Tracer}, which keeps every thread of a
 * protected process seized on one tracer thread and stops them all for an epoch
 * ({@link io.checkpointd.linux.ptrace.StoppedThreads}); StoppedProcess (tests), the
 * one-epoch alternative (seize under the freezer, detach at close); both read each thread's
 * {@link io.checkpointd.linux.ptrace.ThreadState} (registers adjusted for syscall restart as CRIU does, XSAVE area,
 * signal mask) and the queued signals through {@code ThreadReader}; and {@link io.checkpointd.linux.ptrace.Injector},
 * which runs one system call inside a stopped thread of an unmodified target (used to give the target a
 * userfaultfd). x86_64 only: register layout and syscall numbers are that architecture's.
 */
package io.checkpointd.linux.ptrace;
