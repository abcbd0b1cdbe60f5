package io.checkpointd.primary.engine.fds;

import com.google.protobuf.Message;
import io.checkpointd.protocol.image.criu.Eventpoll.eventpoll_tfd_entry;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The fd table at a stop against the base dump's: what the image patch writes into {@code files.img} and the fdinfo
 * image. Reading it needs every thread stopped; patching it in happens after the pause.
 *
 * @param closed  fds of the base dump that are closed now (or point elsewhere: then also in {@code opened})
 * @param opened  fds opened since the base dump, by fd number
 * @param epolls  every epoll fd's registrations now ({@code eventpoll_tfd_entry} messages), by fd number
 * @param streams every connected TCP socket's stream now ({@link TcpStreams}), by inode; null: not read (the base
 *                dump's stream images stay)
 */
public record FdChanges(Set<Integer> closed, Map<Integer, Opened> opened, Map<Integer, List<eventpoll_tfd_entry>> epolls,
                        Map<Long, TcpStreams.Stream> streams) {
    /** Fd changes without streams read. */
    public FdChanges(Set<Integer> closed, Map<Integer, Opened> opened, Map<Integer, List<eventpoll_tfd_entry>> epolls) {
        this(closed, opened, epolls, null);
    }

    /** The same changes with the connections' streams. */
    public FdChanges withStreams(Map<Long, TcpStreams.Stream> s) {
        return new FdChanges(closed, opened, epolls, s);
    }

    /** {@code fd_types} of CRIU's images/fdinfo.proto. */
    public static final int REG = 1, PIPE = 2, INETSK = 4, EVENTFD = 6, EVENTPOLL = 7;

    /**
     * A new fd: its {@code fd_types} type, {@code fdinfo_entry.flags}, and its type's entry for {@code file_entry}
     * field {@code field} (without the {@code id} the patch assigns, nor for a socket the network namespace id, which
     * it adds when {@code netNsId}): a partial message, its required {@code id} (field 1 of every such entry) unset.
     */
    public record Opened(int type, int fdFlags, int field, Message entry, boolean netNsId) {
    }

    /** No fd changed and no epoll registration read. */
    public static final FdChanges NONE = new FdChanges(Set.of(), Map.of(), Map.of());
}
