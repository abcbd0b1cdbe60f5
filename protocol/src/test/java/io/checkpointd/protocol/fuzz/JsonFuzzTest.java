package io.checkpointd.protocol.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.checkpointd.protocol.status.Json;
import java.nio.charset.StandardCharsets;

/**
 * {@link Json#parse} on a status file's text: a value or the {@link IllegalArgumentException} it documents for text
 * that is not JSON. A parsed object must print as JSON that parses back to the same text.
 */
class JsonFuzzTest {
    @FuzzTest(maxDuration = Fuzz.BUDGET)
    void parse(byte[] data) {
        String text = new String(data, StandardCharsets.UTF_8);
        Object v;
        try {
            v = Json.parse(text);
        } catch (IllegalArgumentException e) {
            return;
        }
        if (v instanceof Json j) {
            String printed = j.toString();
            Fuzz.check(Json.parse(printed).toString().equals(printed), "Json round trip of " + printed);
        }
    }
}
