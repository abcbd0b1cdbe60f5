package io.checkpointd.primary.engine.fds;

import io.checkpointd.linux.FileDescriptor;
import io.checkpointd.linux.net.SocketOptions;
import io.checkpointd.protocol.image.criu.Fown.fown_entry;
import java.io.IOException;

/**
 * {@code fown_entry} (CRIU's images/fown.proto) of an open file: the signal from {@code F_GETSIG}, and, as CRIU
 * leaves it when no owner is set, zero uid, euid, pid type and pid. A file with an owner ({@code F_SETOWN}, for
 * {@code O_ASYNC} signals) is not handled.
 */
final class Fown {
    private Fown() {
    }

    static fown_entry of(FileDescriptor f) throws IOException, Unsupported {
        if (SocketOptions.fcntl(f, SocketOptions.F_GETOWN) != 0) throw new Unsupported("file with an owner", "F_SETOWN set");
        return fown_entry.newBuilder().setUid(0).setEuid(0).setSignum(SocketOptions.fcntl(f, SocketOptions.F_GETSIG))
                .setPidType(0).setPid(0).build();
    }
}
