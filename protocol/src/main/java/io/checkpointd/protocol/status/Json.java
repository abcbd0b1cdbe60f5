package io.checkpointd.protocol.status;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An ordered JSON object for the status files, written and read with Jackson's streaming API: objects, arrays,
 * strings, numbers, booleans and null. Parsed objects are {@link Json}, arrays {@link List}, integers {@link Long} and
 * other numbers {@link Double}.
 */
public final class Json {
    /** Deeper nesting is refused rather than recursed into (a status file never nests more than a few levels). */
    private static final int MAX_DEPTH = 64;
    private static final JsonFactory FACTORY = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_DEPTH).build()).build();

    private final Map<String, Object> fields = new LinkedHashMap<>();

    public static Json object() {
        return new Json();
    }

    public Json put(String key, Object value) {
        fields.put(key, value);
        return this;
    }

    public Object get(String key) {
        return fields.get(key);
    }

    public Map<String, Object> fields() {
        return fields;
    }

    @Override
    public String toString() {
        StringWriter out = new StringWriter();
        try (JsonGenerator g = FACTORY.createGenerator(out)) {
            write(g, this);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a StringWriter does not fail
        }
        return out.toString();
    }

    private static void write(JsonGenerator g, Object v) throws IOException {
        if (v == null) {
            g.writeNull();
        } else if (v instanceof Json j) {
            writeObject(g, j.fields);
        } else if (v instanceof Map<?, ?> m) {
            writeObject(g, m);
        } else if (v instanceof List<?> l) {
            g.writeStartArray();
            for (Object e : l) write(g, e);
            g.writeEndArray();
        } else if (v instanceof Double || v instanceof Float) {
            g.writeNumber(((Number) v).doubleValue());
        } else if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte) {
            g.writeNumber(((Number) v).longValue());
        } else if (v instanceof Number n) {
            g.writeNumber(n.toString()); // BigInteger, BigDecimal, atomics: their decimal text
        } else if (v instanceof Boolean b) {
            g.writeBoolean(b);
        } else {
            g.writeString(v.toString());
        }
    }

    private static void writeObject(JsonGenerator g, Map<?, ?> m) throws IOException {
        g.writeStartObject();
        for (var e : m.entrySet()) {
            g.writeFieldName(String.valueOf(e.getKey()));
            write(g, e.getValue());
        }
        g.writeEndObject();
    }

    /**
     * Parses a JSON text (objects become {@link Json}, arrays {@link List}, numbers {@link Double} or {@link Long});
     * an {@link IllegalArgumentException} for anything else, nesting deeper than 64 included.
     */
    public static Object parse(String text) {
        try (JsonParser p = FACTORY.createParser(text)) {
            if (p.nextToken() == null) throw new IllegalArgumentException("unexpected end of JSON");
            Object v = value(p);
            if (p.nextToken() != null) throw new IllegalArgumentException("trailing characters in JSON");
            return v;
        } catch (IOException e) {
            throw new IllegalArgumentException("bad JSON: " + (e instanceof com.fasterxml.jackson.core.JsonProcessingException j ? j.getOriginalMessage() : e.getMessage()), e);
        }
    }

    private static Object value(JsonParser p) throws IOException {
        JsonToken t = p.currentToken();
        switch (t) {
            case START_OBJECT -> {
                Json j = new Json();
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String k = p.currentName();
                    p.nextToken();
                    j.put(k, value(p));
                }
                return j;
            }
            case START_ARRAY -> {
                List<Object> l = new ArrayList<>();
                while (p.nextToken() != JsonToken.END_ARRAY) l.add(value(p));
                return l;
            }
            case VALUE_STRING -> {
                return p.getText();
            }
            case VALUE_NUMBER_INT -> {
                if (p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) throw new IllegalArgumentException("integer out of range: " + p.getText());
                return p.getLongValue();
            }
            case VALUE_NUMBER_FLOAT -> {
                return p.getDoubleValue();
            }
            case VALUE_TRUE -> {
                return Boolean.TRUE;
            }
            case VALUE_FALSE -> {
                return Boolean.FALSE;
            }
            case VALUE_NULL -> {
                return null;
            }
            default -> throw new IllegalArgumentException("unexpected " + t + " in JSON");
        }
    }
}
