package io.checkpointd.bench;

import io.checkpointd.linux.criu.CriuLocator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Stream;

/** What the reports say about the machine a run measured on: CPU, memory, kernel, CRIU, load average. */
final class HostInfo {
    private HostInfo() {
    }

    /** The CPU's model name from {@code /proc/cpuinfo}, or "unknown CPU". */
    static String cpuModel() {
        return grepFirst(Path.of("/proc/cpuinfo"), "model name").map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse("unknown CPU");
    }

    /** One line: cores, CPU, RAM, kernel, CRIU and Java versions. */
    static String machine() {
        String cpu = cpuModel();
        String mem = grepFirst(Path.of("/proc/meminfo"), "MemTotal")
                .map(l -> String.format(Locale.ROOT, "%.0f GiB", Long.parseLong(l.replaceAll("\\D", "")) / 1048576.0)).orElse("? GiB");
        String kernel = read(Path.of("/proc/sys/kernel/osrelease")).orElse("?");
        String criu;
        try {
            criu = "CRIU " + CriuLocator.system().locate().version();
        } catch (Exception e) {
            criu = "CRIU not found";
        }
        return String.format(Locale.ROOT, "nproc %d (%s), %s RAM, kernel %s, %s, Java %s", Runtime.getRuntime().availableProcessors(),
                cpu, mem, kernel, criu, System.getProperty("java.version"));
    }

    /** The 1-, 5- and 15-minute load averages, space-separated, or "?". */
    static String loadAverage() {
        return read(Path.of("/proc/loadavg")).map(l -> String.join(" ", List.of(l.split("\\s+")).subList(0, 3))).orElse("?");
    }

    /** The first figure of a {@link #loadAverage()} string; NaN if there is none. */
    static double oneMinuteLoad(String loadAverage) {
        try {
            return Double.parseDouble(loadAverage.split("\\s+")[0]);
        } catch (RuntimeException e) {
            return Double.NaN;
        }
    }

    /** Whether this process runs as uid 0 (real uid, from {@code /proc/self/status}). */
    static boolean isRoot() {
        return grepFirst(Path.of("/proc/self/status"), "Uid:").map(l -> l.split("\\s+")[2].equals("0")).orElse(false);
    }

    /** MemAvailable in bytes, -1 if unknown. */
    static long memAvailable() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (l.startsWith("MemAvailable:")) return Long.parseLong(l.replaceAll("\\D", "")) * 1024;
            }
        } catch (IOException | RuntimeException e) {
            // unknown
        }
        return -1;
    }

    /** {@code /proc/pressure/cpu} "some" total, µs (time some runnable task waited for a CPU); NaN without PSI. */
    static double cpuPressure() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/pressure/cpu"))) {
                if (l.startsWith("some")) return Double.parseDouble(l.substring(l.indexOf("total=") + 6).trim());
            }
        } catch (IOException | RuntimeException e) {
            // no PSI
        }
        return Double.NaN;
    }

    private static Optional<String> grepFirst(Path p, String prefix) {
        try (Stream<String> lines = Files.lines(p)) {
            return lines.filter(l -> l.startsWith(prefix)).findFirst();
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    private static Optional<String> read(Path p) {
        try {
            return Optional.of(Files.readString(p).trim());
        } catch (IOException e) {
            return Optional.empty();
        }
    }
}
