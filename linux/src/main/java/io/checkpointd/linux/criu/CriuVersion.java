package io.checkpointd.linux.criu;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A CRIU release number, as printed by {@code criu --version} ({@code "Version: 4.2.1"}). */
public record CriuVersion(int major, int minor, int sublevel) implements Comparable<CriuVersion> {
    /** The oldest CRIU checkpointd works with: 4.1 cannot dump inet sockets on kernels >= 6.16. */
    public static final CriuVersion MINIMUM = new CriuVersion(4, 2, 0);

    private static final Pattern VERSION_LINE = Pattern.compile("(?m)^\\s*Version:\\s*(\\d+)\\.(\\d+)(?:\\.(\\d+))?");

    public CriuVersion {
        if (major < 0 || minor < 0 || sublevel < 0) throw new IllegalArgumentException("negative version part");
    }

    /** Parses the output of {@code criu --version}; empty when it has no {@code Version:} line. */
    public static Optional<CriuVersion> parse(String criuVersionOutput) {
        Matcher m = VERSION_LINE.matcher(criuVersionOutput);
        if (!m.find()) return Optional.empty();
        return Optional.of(new CriuVersion(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)),
                m.group(3) == null ? 0 : Integer.parseInt(m.group(3))));
    }

    /** From libcriu's {@code criu_get_version()} encoding: {@code major * 10000 + minor * 100 + sublevel}. */
    public static CriuVersion fromLibcriu(int encoded) {
        return new CriuVersion(encoded / 10000, encoded / 100 % 100, encoded % 100);
    }

    public boolean isAtLeast(CriuVersion other) {
        return compareTo(other) >= 0;
    }

    @Override
    public int compareTo(CriuVersion o) {
        if (major != o.major) return Integer.compare(major, o.major);
        if (minor != o.minor) return Integer.compare(minor, o.minor);
        return Integer.compare(sublevel, o.sublevel);
    }

    @Override
    public String toString() {
        return major + "." + minor + "." + sublevel;
    }
}
