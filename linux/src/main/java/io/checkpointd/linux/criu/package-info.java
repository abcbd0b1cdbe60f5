/**
 * CRIU through libcriu: find a usable CRIU ({@link io.checkpointd.linux.criu.CriuLocator}), then dump and restore
 * process trees with {@link io.checkpointd.linux.criu.Criu}.
 *
 * <p>libcriu is used in "swrk" mode: every call forks the located {@code criu} binary as a private RPC worker, so
 * no CRIU service daemon is needed. Options are passed through a per-call {@code criu_opts} object
 * ({@code criu_local_*}); calls are still serialised process-wide because libcriu keeps the errno of the last
 * RPC in a process-global variable.
 *
 * <p>Failures surface as {@link io.checkpointd.linux.criu.CriuException} (operation, libcriu return code, errno
 * and the tail of CRIU's log) or, when no usable CRIU is installed,
 * {@link io.checkpointd.linux.criu.CriuUnavailableException} with a one-line message for the CLI.
 * The raw JNA interfaces are package-private.
 */
package io.checkpointd.linux.criu;
