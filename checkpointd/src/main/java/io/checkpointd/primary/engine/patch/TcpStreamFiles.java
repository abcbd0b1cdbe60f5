package io.checkpointd.primary.engine.patch;

import io.checkpointd.primary.engine.fds.TcpStreams;
import io.checkpointd.protocol.image.TcpStreamImage;
import java.util.Map;

/**
 * The epoch's {@code tcp-stream-<ino>.img} files: one per connected TCP socket read at the stop, replacing the base
 * dump's; those of connections closed since go. A stream whose bytes did not change since the last epoch ships
 * nothing (the shipper skips files equal to what the backup holds).
 */
final class TcpStreamFiles {
    private TcpStreamFiles() {
    }

    static void replace(Map<String, byte[]> files, Map<Long, TcpStreams.Stream> streams) {
        files.keySet().removeIf(n -> n.startsWith("tcp-stream-") && n.endsWith(".img"));
        for (TcpStreams.Stream s : streams.values()) files.put(TcpStreamImage.name(s.ino()), s.image().encode());
    }
}
