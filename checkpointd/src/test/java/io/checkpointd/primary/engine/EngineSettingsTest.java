package io.checkpointd.primary.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class EngineSettingsTest {
    /** Every KEY has a DEFAULT and a getter returning it when unset, and a row of the same default in docs/operations.md. */
    @Test
    void everyKeyHasADefaultAGetterAndADocumentedRow() throws Exception {
        String doc = Files.readString(Path.of("..", "docs", "operations.md"));
        List<String> keys = new ArrayList<>();
        for (Field f : EngineSettings.class.getFields()) {
            if (!f.getName().endsWith("_KEY")) continue;
            String key = (String) f.get(null);
            keys.add(key);
            assertThat(key).startsWith("checkpointd.");
            assertThat(System.getProperty(key)).as("%s set in the test JVM", key).isNull();
            Object def = EngineSettings.class.getField(f.getName().replace("_KEY", "_DEFAULT")).get(null);
            Method getter = getterFor(f.getName());
            Object got = getter.invoke(null);
            if (got instanceof Boolean || def instanceof Boolean) assertThat(got).as(key).isEqualTo(def);
            else assertThat(((Number) got).longValue()).as(key).isEqualTo(((Number) def).longValue());
            assertThat(doc).as("docs/operations.md row of " + key).contains("| `" + key + "` | `" + def + "` |");
        }
        assertThat(keys).hasSize(14);
    }

    /** The getter of FOO_BAR_KEY: the public static method whose name, upper-cased, starts FOOBAR. */
    private static Method getterFor(String keyField) {
        String stem = keyField.substring(0, keyField.length() - "_KEY".length()).replace("_", "");
        Method best = null;
        for (Method m : EngineSettings.class.getMethods()) {
            if (!Modifier.isStatic(m.getModifiers()) || m.getParameterCount() != 0) continue;
            String n = m.getName().toUpperCase();
            if (n.startsWith(stem) && (best == null || m.getName().length() < best.getName().length())) best = m;
        }
        assertThat(best).as("getter of " + keyField).isNotNull();
        return best;
    }
}
