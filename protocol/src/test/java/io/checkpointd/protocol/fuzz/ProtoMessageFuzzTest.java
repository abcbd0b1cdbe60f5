package io.checkpointd.protocol.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.checkpointd.protocol.image.ProtoMessage;
import java.io.IOException;
import java.util.Arrays;

/**
 * {@link ProtoMessage#parse} on arbitrary bytes, then the accessors the image readers use on the field the selector
 * names. Parsing may only fail with an {@link IOException}, an accessor only with the {@link IllegalStateException}
 * it documents for a field of another wire type; {@code parse(x).encode()} must be {@code x}.
 */
class ProtoMessageFuzzTest {
    @FuzzTest(maxDuration = Fuzz.BUDGET)
    void parse(byte[] data) {
        byte[] x = Fuzz.body(data);
        int field = Fuzz.selector(data) % 32 + 1;
        ProtoMessage m;
        try {
            m = ProtoMessage.parse(x);
        } catch (IOException e) {
            return;
        }
        Fuzz.check(Arrays.equals(x, m.encode()), "parse then encode changed the message");
        Fuzz.check(Arrays.equals(x, m.copy().encode()), "copy changed the message");
        try {
            m.findVarint(field);
        } catch (IllegalStateException e) {
            // another wire type
        }
        try {
            m.repeatedVarints(field);
        } catch (IllegalStateException e) {
            // another wire type, or broken packed varints
        }
        try {
            for (ProtoMessage child : m.messages(field)) child.encode();
        } catch (IllegalStateException e) {
            // not a nested message
        }
    }
}
