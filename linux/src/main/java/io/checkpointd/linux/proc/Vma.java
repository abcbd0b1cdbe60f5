package io.checkpointd.linux.proc;

/**
 * One line of {@code /proc/PID/maps}: a virtual memory area.
 *
 * @param start  first address
 * @param end    one past the last address
 * @param perms  the four permission characters, e.g. {@code "rw-p"}
 * @param offset file offset
 * @param dev    device {@code "major:minor"}
 * @param inode  inode, 0 for anonymous memory
 * @param path   the file or pseudo-name ({@code [heap]}, {@code [vdso]}...), empty for anonymous memory
 */
public record Vma(long start, long end, String perms, long offset, String dev, long inode, String path) {
    public long length() {
        return end - start;
    }

    public boolean isReadable() {
        return perms.charAt(0) == 'r';
    }

    public boolean isWritable() {
        return perms.charAt(1) == 'w';
    }

    public boolean isExecutable() {
        return perms.charAt(2) == 'x';
    }

    /** Private (copy-on-write) mapping: the memory a checkpoint must carry. */
    public boolean isPrivate() {
        return perms.charAt(3) == 'p';
    }

    /** A kernel-provided special mapping ({@code [vdso]}, {@code [vvar]}, {@code [vvar_vclock]}, {@code [vsyscall]}), never tracked or copied. */
    public boolean isSpecial() {
        return path.startsWith("[v");
    }

    public boolean contains(long address) {
        return address >= start && address < end;
    }

    /** Parses one maps line. Paths may contain spaces; everything after the inode is the path. */
    public static Vma parse(String line) {
        // by hand, not with a regex: the engine parses a few hundred lines in every pause
        try {
            int i = 0, n = line.length();
            while (i < n && line.charAt(i) == ' ') i++;
            int dash = line.indexOf('-', i);
            int sp1 = line.indexOf(' ', dash);
            long start = Long.parseUnsignedLong(line, i, dash, 16);
            long end = Long.parseUnsignedLong(line, dash + 1, sp1, 16);
            int p = skip(line, sp1);
            int sp2 = line.indexOf(' ', p);
            String perms = line.substring(p, sp2);
            p = skip(line, sp2);
            int sp3 = line.indexOf(' ', p);
            long offset = Long.parseUnsignedLong(line, p, sp3, 16);
            p = skip(line, sp3);
            int sp4 = line.indexOf(' ', p);
            String dev = line.substring(p, sp4);
            p = skip(line, sp4);
            int sp5 = line.indexOf(' ', p);
            if (sp5 < 0) sp5 = n;
            long inode = Long.parseLong(line, p, sp5, 10);
            String path = sp5 >= n ? "" : line.substring(skip(line, sp5)).trim();
            return new Vma(start, end, perms, offset, dev, inode, path);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("not a maps line: " + line, e);
        }
    }

    private static final String[] PERMS = new String[16];

    static {
        for (int i = 0; i < 16; i++) {
            PERMS[i] = "" + ((i & 8) != 0 ? 'r' : '-') + ((i & 4) != 0 ? 'w' : '-') + ((i & 2) != 0 ? 'x' : '-') + ((i & 1) != 0 ? 'p' : 's');
        }
    }

    /** Parses the maps line {@code b[from, to)} (no newline), as {@link #parse(String)} does. */
    public static Vma parse(byte[] b, int from, int to) {
        try {
            int i = from;
            while (i < to && b[i] == ' ') i++;
            long start = 0;
            for (; b[i] != '-'; i++) start = (start << 4) | hex(b[i]);
            long end = 0;
            for (i++; b[i] != ' '; i++) end = (end << 4) | hex(b[i]);
            i++;
            int bits = (b[i] == 'r' ? 8 : 0) | (b[i + 1] == 'w' ? 4 : 0) | (b[i + 2] == 'x' ? 2 : 0) | (b[i + 3] == 'p' ? 1 : 0);
            String perms = PERMS[bits];
            for (int j = 0; j < 4; j++) {
                if (b[i + j] != perms.charAt(j)) return parse(new String(b, from, to - from, java.nio.charset.StandardCharsets.UTF_8));
            }
            if (b[i + 4] != ' ') throw new IllegalArgumentException("perms");
            i += 5;
            long offset = 0;
            for (; b[i] != ' '; i++) offset = (offset << 4) | hex(b[i]);
            int d = ++i;
            while (b[i] != ' ') i++;
            String dev = new String(b, d, i - d, java.nio.charset.StandardCharsets.US_ASCII);
            i++;
            long inode = 0;
            for (; i < to && b[i] != ' '; i++) {
                if (b[i] < '0' || b[i] > '9') throw new IllegalArgumentException("inode");
                inode = inode * 10 + (b[i] - '0');
            }
            while (i < to && b[i] == ' ') i++;
            int pe = to;
            while (pe > i && (b[pe - 1] & 0xff) <= ' ') pe--; // as String.trim
            String path = pe > i ? new String(b, i, pe - i, java.nio.charset.StandardCharsets.UTF_8) : "";
            return new Vma(start, end, perms, offset, dev, inode, path);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("not a maps line: " + new String(b, from, to - from, java.nio.charset.StandardCharsets.UTF_8), e);
        }
    }

    private static int hex(byte c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        throw new IllegalArgumentException("not a hex digit: " + (char) c);
    }

    private static int skip(String s, int from) {
        int i = from;
        while (i < s.length() && s.charAt(i) == ' ') i++;
        return i;
    }

    @Override
    public String toString() {
        return String.format("%x-%x %s %s", start, end, perms, path);
    }
}
