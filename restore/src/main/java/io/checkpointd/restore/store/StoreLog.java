package io.checkpointd.restore.store;

import io.checkpointd.protocol.replication.EpochRecord;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Reading a committed epoch's log file: length-prefixed records, in the order they were received. */
final class StoreLog {
    private StoreLog() {
    }

    /** What a logged epoch's records are handed to, with the payload's position and length in the log file. */
    @FunctionalInterface
    interface LoggedRecord {
        void accept(EpochRecord r, long payloadPos, int length) throws IOException;
    }

    /** Decodes every record of a committed log file, in order. */
    static void read(Path f, LoggedRecord to) throws IOException {
        try (FileChannel in = FileChannel.open(f, StandardOpenOption.READ)) {
            ByteBuffer len = ByteBuffer.allocate(4);
            long pos = 0, size = in.size();
            while (pos < size) {
                len.clear();
                while (len.hasRemaining() && in.read(len, pos + len.position()) > 0) { }
                int n = len.getInt(0);
                if (n < 0 || pos + 4 + n > size) throw new IOException("store log " + f + " is damaged");
                ByteBuffer p = ByteBuffer.allocate(n);
                while (p.hasRemaining() && in.read(p, pos + 4 + p.position()) > 0) { }
                to.accept(EpochRecord.decode(p.array()), pos + 4, n);
                pos += 4 + n;
            }
        }
    }
}
