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
