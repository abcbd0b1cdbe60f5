package io.checkpointd.bench;

import java.util.List;
import java.util.Locale;

/** Number formats, the aligned Markdown tables and the console lines the harnesses' reports share. */
final class Fmt {
    private Fmt() {
    }

    /** Milliseconds with 0-2 decimals by magnitude; "?" for NaN. */
    static String ms(double v) {
        if (Double.isNaN(v)) return "?";
        return v >= 100 ? fixed(v, 0) : v >= 10 ? fixed(v, 1) : fixed(v, 2);
    }

    static String fixed(double v, int decimals) {
        return Double.isNaN(v) || Double.isInfinite(v) ? "?" : String.format(Locale.ROOT, "%." + decimals + "f", v);
    }

    /** Decimal MB / kB / B. */
    static String bytes(double b) {
        if (Double.isNaN(b)) return "?";
        if (b >= 1e6) return fixed(b / 1e6, 1) + " MB";
        if (b >= 1e3) return fixed(b / 1e3, 0) + " kB";
        return fixed(b, 0) + " B";
    }

    /**
     * A Markdown table, columns padded to their widest cell: the first left-aligned, the others right-aligned;
     * the first row is the header. No trailing newline.
     */
    static String table(List<String[]> cells) {
        int[] w = new int[cells.get(0).length];
        for (String[] c : cells) for (int i = 0; i < c.length; i++) w[i] = Math.max(w[i], c[i].length());
        StringBuilder sb = new StringBuilder();
        for (int k = 0; k < cells.size(); k++) {
            String[] c = cells.get(k);
            sb.append('|');
            for (int i = 0; i < c.length; i++) {
                String pad = " ".repeat(w[i] - c[i].length());
                sb.append(' ').append(i == 0 ? c[i] + pad : pad + c[i]).append(" |");
            }
            sb.append('\n');
            if (k == 0) {
                sb.append('|');
                for (int i = 0; i < c.length; i++) sb.append(i == 0 ? "-".repeat(w[i] + 2) : "-".repeat(w[i] + 1) + ":").append('|');
                sb.append('\n');
            }
        }
        return sb.toString().stripTrailing();
    }

    /** The exception's message (or the exception) on one line. */
    static String oneLine(Exception e) {
        String m = e.getMessage() == null ? e.toString() : e.getMessage();
        return m.replace('\n', ' ');
    }

    /** A progress line on stdout, flushed. */
    static void say(String fmt, Object... args) {
        System.out.printf(Locale.ROOT, fmt + "%n", args);
        System.out.flush();
    }
}
