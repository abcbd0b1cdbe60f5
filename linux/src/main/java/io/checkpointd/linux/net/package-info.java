/**
 * Sockets seen from outside their process: the kernel's TCP table through {@code sock_diag}
 * ({@link io.checkpointd.linux.net.SockDiag}) and options read on a duplicate of a socket
 * ({@link io.checkpointd.linux.net.SocketOptions}).
 */
package io.checkpointd.linux.net;
