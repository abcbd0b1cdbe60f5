/**
 * Linux bindings through JNA: the only package tree of checkpointd that imports {@code com.sun.jna}.
 * Raw interfaces are package-private; each public wrapper checks its result and throws
 * {@link io.checkpointd.linux.SyscallException} (call name, errno, strerror). Owned fds are
 * {@link io.checkpointd.linux.FileDescriptor}s that close exactly once.
 *
 * <p>This package holds the process-level calls ({@link io.checkpointd.linux.Syscalls}: signals, waitpid,
 * pidfds), cross-process reads ({@link io.checkpointd.linux.ProcessMemory}), a generic checked
 * {@link io.checkpointd.linux.Ioctl}, and the run-once {@link io.checkpointd.linux.Features} probes.
 * Sub-packages: {@code ptrace}, {@code uffd} (dirty tracking), {@code proc} (/proc parsing),
 * {@code freezer} (cgroup freezer), {@code inotify} (data-directory change hints), {@code net} (sockets seen from
 * outside: {@code sock_diag}, options of a duplicate); {@code criu} is the libcriu binding.
 */
package io.checkpointd.linux;
