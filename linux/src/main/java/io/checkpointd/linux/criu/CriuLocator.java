package io.checkpointd.linux.criu;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Finds a usable CRIU (>= {@link CriuVersion#MINIMUM}), in this order:
 * <ol>
 *   <li>{@code $CHECKPOINTD_CRIU_PREFIX} (a directory with {@code sbin/criu} and {@code lib/libcriu.so}); when set
 *       it is the only place looked at, so a wrong setting fails loudly instead of silently using another CRIU;</li>
 *   <li>{@code /opt/checkpointd/criu}, where {@code scripts/install-criu} puts it;</li>
 *   <li>{@code criu} on {@code PATH}, with {@code libcriu.so} next to it ({@code ../lib}) or known to the dynamic
 *       linker ({@code ldconfig -p}).</li>
 * </ol>
 * A candidate that exists but is too old is skipped in favour of a later one; if none qualifies the first reason
 * is reported. Instances are immutable; {@link #system()} reads the real environment, the constructor lets tests
 * point at fake installations.
 */
public final class CriuLocator {
    /** Environment variable naming an installation prefix. */
    public static final String PREFIX_ENV = "CHECKPOINTD_CRIU_PREFIX";
    /** Where {@code scripts/install-criu} installs CRIU by default. */
    public static final Path DEFAULT_PREFIX = Path.of("/opt/checkpointd/criu");

    private static final String FIX = "run scripts/install-criu";
    private static final long VERSION_TIMEOUT_SECONDS = 10;

    private final String envPrefix;
    private final Path defaultPrefix;
    private final String pathVariable;

    /**
     * @param envPrefix     value of {@value #PREFIX_ENV}, or null/empty when unset
     * @param defaultPrefix the default prefix, or null to skip it
     * @param pathVariable  a {@code PATH}-style list to search for {@code criu}, or null to skip it
     */
    public CriuLocator(String envPrefix, Path defaultPrefix, String pathVariable) {
        this.envPrefix = envPrefix == null || envPrefix.isBlank() ? null : envPrefix;
        this.defaultPrefix = defaultPrefix;
        this.pathVariable = pathVariable;
    }

    /** A locator over the real environment, {@link #DEFAULT_PREFIX} and {@code PATH}. */
    public static CriuLocator system() {
        return new CriuLocator(System.getenv(PREFIX_ENV), DEFAULT_PREFIX, System.getenv("PATH"));
    }

    /** Finds CRIU or explains, in one line, why there is none usable. */
    public CriuInstallation locate() throws CriuUnavailableException {
        if (envPrefix != null) return inspectPrefix(Path.of(envPrefix), "$" + PREFIX_ENV);
        List<CriuUnavailableException> rejected = new ArrayList<>();
        if (defaultPrefix != null && Files.exists(defaultPrefix.resolve("sbin/criu"))) {
            try {
                return inspectPrefix(defaultPrefix, null);
            } catch (CriuUnavailableException e) {
                rejected.add(e);
            }
        }
        Optional<Path> onPath = findOnPath();
        if (onPath.isPresent()) {
            try {
                Path binary = onPath.get();
                CriuVersion v = requireUsableVersion(binary);
                return new CriuInstallation(binary, findLibraryFor(binary), v);
            } catch (CriuUnavailableException e) {
                rejected.add(e);
            }
        }
        if (!rejected.isEmpty()) throw rejected.get(0);
        throw new CriuUnavailableException("CRIU not found (looked in $" + PREFIX_ENV + ", "
                + (defaultPrefix == null ? "" : defaultPrefix + ", ") + "and PATH): checkpointd needs >= "
                + shortVersion(CriuVersion.MINIMUM) + " (" + FIX + ")");
    }

    /** Inspects one installation prefix: {@code sbin/criu} (or {@code bin/criu}) plus {@code lib/libcriu.so}. */
    public static CriuInstallation inspectPrefix(Path prefix) throws CriuUnavailableException {
        return inspectPrefix(prefix, null);
    }

    private static CriuInstallation inspectPrefix(Path prefix, String via) throws CriuUnavailableException {
        String where = via == null ? prefix.toString() : prefix + " (from " + via + ")";
        Path binary = prefix.resolve("sbin/criu");
        if (!Files.isExecutable(binary) && Files.isExecutable(prefix.resolve("bin/criu"))) binary = prefix.resolve("bin/criu");
        if (!Files.isExecutable(binary)) {
            throw new CriuUnavailableException("CRIU not found in " + where + ": no executable sbin/criu (" + FIX + ")");
        }
        CriuVersion v = requireUsableVersion(binary.toAbsolutePath());
        Path lib = prefix.resolve("lib/libcriu.so");
        if (!Files.isReadable(lib)) {
            throw new CriuUnavailableException("CRIU " + v + " in " + where + " has no lib/libcriu.so (" + FIX + ")");
        }
        return new CriuInstallation(binary.toAbsolutePath(), lib.toAbsolutePath(), v);
    }

    /** Runs {@code <binary> --version} and refuses anything older than {@link CriuVersion#MINIMUM}. */
    static CriuVersion requireUsableVersion(Path binary) throws CriuUnavailableException {
        String out = runForOutput(List.of(binary.toString(), "--version"), binary);
        CriuVersion v = CriuVersion.parse(out).orElseThrow(() -> new CriuUnavailableException(
                "cannot read the version of CRIU at " + binary + " (`criu --version` printed: "
                        + firstLine(out) + ") (" + FIX + ")"));
        if (!v.isAtLeast(CriuVersion.MINIMUM)) {
            throw new CriuUnavailableException("CRIU " + v + " at " + binary + " is too old: checkpointd needs >= "
                    + shortVersion(CriuVersion.MINIMUM) + " (" + FIX + ")");
        }
        return v;
    }

    private Optional<Path> findOnPath() {
        if (pathVariable == null) return Optional.empty();
        for (String dir : pathVariable.split(":")) {
            if (dir.isEmpty()) continue;
            Path p = Path.of(dir, "criu");
            if (Files.isRegularFile(p) && Files.isExecutable(p)) return Optional.of(p.toAbsolutePath());
        }
        return Optional.empty();
    }

    private static final Pattern LDCONFIG_LINE = Pattern.compile("^\\s*libcriu\\.so(?:\\.\\d+)*\\s.*=>\\s*(\\S+)\\s*$", Pattern.MULTILINE);

    /** libcriu beside the binary (a prefix install), else whatever the dynamic linker knows. */
    private static Path findLibraryFor(Path binary) throws CriuUnavailableException {
        Path real;
        try {
            real = binary.toRealPath();
        } catch (IOException e) {
            real = binary;
        }
        Path parent = real.getParent() == null ? null : real.getParent().getParent();
        if (parent != null && Files.isReadable(parent.resolve("lib/libcriu.so"))) return parent.resolve("lib/libcriu.so");
        for (String ldconfig : List.of("/sbin/ldconfig", "/usr/sbin/ldconfig")) {
            if (!Files.isExecutable(Path.of(ldconfig))) continue;
            try {
                Matcher m = LDCONFIG_LINE.matcher(runForOutput(List.of(ldconfig, "-p"), Path.of(ldconfig)));
                if (m.find()) return Path.of(m.group(1));
            } catch (CriuUnavailableException e) {
                // fall through to the message below: a missing library is the real problem to report
            }
        }
        throw new CriuUnavailableException("CRIU at " + binary + " found but no libcriu.so next to it or known to the"
                + " dynamic linker (" + FIX + ")");
    }

    private static String runForOutput(List<String> command, Path what) throws CriuUnavailableException {
        Process p = null;
        try {
            p = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
            String out;
            try (InputStream in = p.getInputStream()) {
                out = new String(in.readNBytes(64 * 1024), StandardCharsets.UTF_8);
            }
            if (!p.waitFor(VERSION_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                throw new CriuUnavailableException("`" + String.join(" ", command) + "` did not finish in "
                        + VERSION_TIMEOUT_SECONDS + " s (" + FIX + ")");
            }
            return out;
        } catch (IOException e) {
            throw new CriuUnavailableException("cannot run " + what + ": " + e.getMessage() + " (" + FIX + ")", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CriuUnavailableException("interrupted while running " + what, e);
        } finally {
            if (p != null && p.isAlive()) {
                p.destroyForcibly();
                try {
                    p.waitFor(); // reap it: never leave a zombie behind
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    private static String shortVersion(CriuVersion v) {
        return v.sublevel() == 0 ? v.major() + "." + v.minor() : v.toString();
    }

    private static String firstLine(String s) {
        String t = s.strip();
        int nl = t.indexOf('\n');
        return (nl < 0 ? t : t.substring(0, nl)).strip();
    }
}
