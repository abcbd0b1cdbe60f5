/**
 * Linux bindings through JNA: the only package tree of checkpointd that imports {@code com.sun.jna}.
 * Raw interfaces are package-private; each public wrapper checks its result and throws
 * {@link io.checkpointd.linux.SyscallException} (call name, errno, strerror). Owned fds are
 * {@link io.checkpointd.linux.FileDescriptor}s that close exactly once.
 */
package io.checkpointd.linux;
