package io.checkpointd.protocol.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.checkpointd.protocol.image.HostFiles;
import java.io.IOException;

/**
 * {@link HostFiles#decode} on an image file's bytes (it arrives from the primary with the epoch's images): a value or an
 * {@link IOException}, nothing else, and whatever decodes re-encodes to bytes that decode to the same value.
 */
class HostFilesFuzzTest {
    @FuzzTest(maxDuration = Fuzz.BUDGET)
    void decode(byte[] data) {
        HostFiles h;
        try {
            h = HostFiles.decode(Fuzz.body(data));
        } catch (IOException e) {
            return;
        }
        try {
            Fuzz.check(h.equals(HostFiles.decode(h.encode())), "round trip changed " + h);
        } catch (IOException e) {
            throw new AssertionError("re-encoded " + h + " does not decode", e);
        }
    }
}
