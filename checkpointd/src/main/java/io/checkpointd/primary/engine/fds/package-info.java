/**
 * File descriptors opened or closed between epochs, captured by the engine itself: what changed in the fd table
 * against the base dump ({@link io.checkpointd.primary.engine.fds.FdReader}), the CRIU image entries of the new fds
 * (TCP sockets, epoll instances, eventfds) and the epoll registrations of every epoll fd, which
 * {@link io.checkpointd.primary.engine.patch.FilesImage} writes into the epoch's {@code files.img} and fdinfo image.
 */
package io.checkpointd.primary.engine.fds;
