package io.checkpointd.protocol.status;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {
    @Test
    void writesInOrderAndReadsBack() {
        Json j = Json.object().put("role", "primary").put("epoch", 42L).put("pauseMs", 2.5).put("ok", true).put("none", null)
                .put("list", List.of(1L, "a\n\"b\"")).put("map", Map.of("k", 1L)).put("nested", Json.object().put("x", 1.0e12));
        String text = j.toString();
        assertThat(text).startsWith("{\"role\":\"primary\",\"epoch\":42,\"pauseMs\":2.5,\"ok\":true,\"none\":null,");
        Json back = (Json) Json.parse(text);
        assertThat(back.get("epoch")).isEqualTo(42L);
        assertThat(back.get("pauseMs")).isEqualTo(2.5);
        assertThat(back.get("list")).isEqualTo(List.of(1L, "a\n\"b\""));
        assertThat(((Json) back.get("nested")).get("x")).isEqualTo(1.0e12);
        assertThat(back.toString()).isEqualTo(text);
    }

    @Test
    void refusesWhatIsNotJson() {
        for (String bad : new String[] {"", "{", "{\"a\":}", "[1,]", "{} x", "nul", "99999999999999999999999"}) {
            assertThatThrownBy(() -> Json.parse(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
        }
        assertThatThrownBy(() -> Json.parse("[".repeat(65) + "]".repeat(65))).isInstanceOf(IllegalArgumentException.class);
        assertThat(Json.parse("[".repeat(60) + "]".repeat(60))).isInstanceOf(List.class);
    }
}
