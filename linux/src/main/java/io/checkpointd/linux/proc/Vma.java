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
        String[] f = line.trim().split("\\s+", 6);
        if (f.length < 5) throw new IllegalArgumentException("not a maps line: " + line);
        int dash = f[0].indexOf('-');
        long start = Long.parseUnsignedLong(f[0].substring(0, dash), 16);
        long end = Long.parseUnsignedLong(f[0].substring(dash + 1), 16);
        return new Vma(start, end, f[1], Long.parseUnsignedLong(f[2], 16), f[3], Long.parseLong(f[4]),
                f.length > 5 ? f[5].trim() : "");
    }

    @Override
    public String toString() {
        return String.format("%x-%x %s %s", start, end, perms, path);
    }
}
