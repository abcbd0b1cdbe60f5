package io.checkpointd.primary.engine.fds;

import io.checkpointd.linux.FileDescriptor;
import io.checkpointd.linux.net.SocketOptions;
import io.checkpointd.protocol.image.ProtoMessage;
import java.io.IOException;

/**
 * {@code fown_entry} (CRIU's images/fown.proto) of an open file: the signal from {@code F_GETSIG}, and, as CRIU
 * leaves it when no owner is set, zero uid, euid, pid type and pid. A file with an owner ({@code F_SETOWN}, for
 * {@code O_ASYNC} signals) is not handled.
 */
final class Fown {
    private Fown() {
    }

    static ProtoMessage of(FileDescriptor f) throws IOException, Unsupported {
        if (SocketOptions.fcntl(f, SocketOptions.F_GETOWN) != 0) throw new Unsupported("file with an owner", "F_SETOWN set");
        ProtoMessage m = new ProtoMessage();
        m.setVarint(1, 0);
        m.setVarint(2, 0);
        m.setVarint(3, SocketOptions.fcntl(f, SocketOptions.F_GETSIG));
        m.setVarint(4, 0);
        m.setVarint(5, 0);
        return m;
    }
}
