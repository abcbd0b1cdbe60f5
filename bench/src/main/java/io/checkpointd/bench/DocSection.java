package io.checkpointd.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Writes one harness's section of {@code docs/benchmarks.md} between its marker comments, leaving the rest of the
 * file alone; each harness owns its markers. Two forms, as the harnesses' sections have always been written.
 */
final class DocSection {
    private DocSection() {
    }

    /**
     * The section already holds its markers, {@code beginMarker} first and {@code endMarker} last: replaces the text
     * from the begin marker's prefix (up to its ':') to the end marker and one newline after it, or appends the
     * section after a blank line. Creates the file (and its folder) when missing; written atomically.
     */
    static void replaceMarked(Path doc, String section, String beginMarker, String endMarker) throws IOException {
        String text = Files.exists(doc) ? Files.readString(doc, StandardCharsets.UTF_8) : "# Benchmarks\n\n";
        int b = text.indexOf(beginMarker.substring(0, beginMarker.indexOf(':')));
        int e = text.indexOf(endMarker);
        String updated;
        if (b >= 0 && e > b) {
            int end = e + endMarker.length();
            if (end < text.length() && text.charAt(end) == '\n') end++;
            updated = text.substring(0, b) + section + text.substring(end);
        } else {
            updated = text + (text.isEmpty() || text.endsWith("\n\n") ? "" : text.endsWith("\n") ? "\n" : "\n\n") + section;
        }
        if (doc.getParent() != null) Files.createDirectories(doc.getParent());
        Path tmp = doc.resolveSibling(doc.getFileName() + ".tmp");
        Files.writeString(tmp, updated, StandardCharsets.UTF_8);
        Files.move(tmp, doc, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** The section without markers: replaces what lies between {@code begin} and {@code end} (or appends both). */
    static void replaceBetween(Path file, String section, String begin, String end) throws IOException {
        String block = begin + "\n" + section.strip() + "\n" + end;
        String text = Files.exists(file) ? Files.readString(file) : "# Benchmarks\n";
        int b = text.indexOf(begin), e = text.indexOf(end);
        String out;
        if (b >= 0 && e > b) out = text.substring(0, b) + block + text.substring(e + end.length());
        else out = text.stripTrailing() + "\n\n" + block + "\n";
        Files.writeString(file, out);
    }
}
