package io.checkpointd.demo;

import java.nio.charset.StandardCharsets;

/**
 * Constants and token rules of the key-value line protocol, shared by server and client so both
 * agree on what is valid.
 *
 * <pre>
 *   PUT &lt;key&gt; &lt;value&gt;  -&gt; OK
 *   GET &lt;key&gt;          -&gt; VALUE &lt;value&gt; | NONE
 *   SIZE               -&gt; SIZE &lt;n&gt;
 *   PING               -&gt; PONG
 *   STATS              -&gt; STATS puts=&lt;n&gt; gets=&lt;n&gt;
 *   anything else      -&gt; ERR &lt;reason&gt;
 * </pre>
 *
 * Requests end with {@code \n} (a trailing {@code \r} is tolerated); tokens are separated by exactly
 * one space. Keys and values are non-empty, contain no space or control character, and are at most
 * {@link #MAX_KEY_BYTES} / {@link #MAX_VALUE_BYTES} bytes of UTF-8.
 */
public final class KvProtocol {
    /** Longest key, in UTF-8 bytes. */
    public static final int MAX_KEY_BYTES = 256;
    /** Longest value, in UTF-8 bytes. */
    public static final int MAX_VALUE_BYTES = 4096;
    /**
     * Longest request line the server buffers, terminator included. Comfortably above the longest
     * valid request ({@code PUT} + key + value + separators) so only garbage hits it.
     */
    public static final int MAX_LINE_BYTES = 8192;
    /** Longest reply line ({@code VALUE <value>\n}). */
    public static final int MAX_REPLY_BYTES = "VALUE \n".length() + MAX_VALUE_BYTES;

    private KvProtocol() {}

    /**
     * Returns why {@code token} is not a valid key/value of at most {@code maxBytes}, or null if it is.
     * The reasons are fixed strings, so an {@code ERR} reply never echoes client input.
     */
    public static String tokenProblem(String token, int maxBytes) {
        if (token == null || token.isEmpty()) {
            return "empty token";
        }
        for (int i = 0; i < token.length(); i++) {
            char c = token.charAt(i);
            // spaces would split the token; control characters (incl. \r, \n) would break framing
            if (c <= ' ' || c == 0x7f || Character.isISOControl(c)) {
                return "invalid character in token";
            }
        }
        if (utf8Length(token) > maxBytes) {
            return "token too long";
        }
        return null;
    }

    /** Throws {@link IllegalArgumentException} if {@code key} is not a valid key. */
    public static void checkKey(String key) {
        String problem = tokenProblem(key, MAX_KEY_BYTES);
        if (problem != null) {
            throw new IllegalArgumentException("bad key: " + problem);
        }
    }

    /** Throws {@link IllegalArgumentException} if {@code value} is not a valid value. */
    public static void checkValue(String value) {
        String problem = tokenProblem(value, MAX_VALUE_BYTES);
        if (problem != null) {
            throw new IllegalArgumentException("bad value: " + problem);
        }
    }

    /** UTF-8 length of {@code s} without allocating; an upper bound if {@code s} has lone surrogates. */
    static int utf8Length(String s) {
        int n = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                n += 1;
            } else if (c < 0x800) {
                n += 2;
            } else if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                n += 4;
                i++;
            } else {
                n += 3;
            }
        }
        return n;
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
