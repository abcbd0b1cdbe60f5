package io.checkpointd.protocol.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.checkpointd.protocol.ProtocolException;
import io.checkpointd.protocol.replication.EpochBegin;
import io.checkpointd.protocol.replication.EpochEnd;
import io.checkpointd.protocol.replication.EpochRecord;
import io.checkpointd.protocol.replication.Hello;
import io.checkpointd.protocol.replication.HelloOk;
import java.util.Arrays;

/**
 * The replication payload decoders on a peer's bytes: selector (mod 5) picks {@link Hello}, {@link HelloOk},
 * {@link EpochBegin}, {@link EpochEnd} or {@link EpochRecord} (every record kind). The only allowed failure is a
 * {@link ProtocolException}; whatever decodes must encode back to exactly the bytes it came from.
 */
class ReplicationFuzzTest {
    @FuzzTest(maxDuration = Fuzz.BUDGET)
    void decode(byte[] data) {
        byte[] p = Fuzz.body(data);
        byte[] again;
        try {
            again = switch (Fuzz.selector(data) % 5) {
                case 0 -> Hello.decode(p).encode();
                case 1 -> HelloOk.decode(p).encode();
                case 2 -> EpochBegin.decode(p).encode();
                case 3 -> EpochEnd.decode(p).encode();
                default -> EpochRecord.decode(p).encode();
            };
        } catch (ProtocolException e) {
            return;
        }
        Fuzz.check(Arrays.equals(p, again), "decode then encode changed the payload");
    }
}
