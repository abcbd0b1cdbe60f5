package io.checkpointd.cli;

import io.checkpointd.protocol.image.HostFiles;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Checks of the environment a command needs, each failing with a {@link UsageException} that says what to do. */
final class Preconditions {
    /** CAP_SYS_ADMIN (freezer, CRIU), CAP_SYS_PTRACE (CRIU seizes the process), CAP_KILL, CAP_DAC_OVERRIDE. */
    private static final int[] NEEDED_CAPS = {21, 19, 5, 1};
    private static final String[] CAP_NAMES = {"CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_KILL", "CAP_DAC_OVERRIDE"};

    private Preconditions() {
    }

    /** The effective capabilities of this process include what checkpoint and restore need. */
    static void requirePrivileges(String what) {
        BigInteger eff = capEff();
        StringBuilder missing = new StringBuilder();
        for (int i = 0; i < NEEDED_CAPS.length; i++) {
            if (eff == null || !eff.testBit(NEEDED_CAPS[i])) missing.append(missing.length() == 0 ? "" : ", ").append(CAP_NAMES[i]);
        }
        if (missing.length() > 0) {
            throw new UsageException(what + " needs root (missing " + missing + "): run it as root, e.g. with sudo");
        }
    }

    private static BigInteger capEff() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (l.startsWith("CapEff:")) return new BigInteger(l.substring(7).trim(), 16);
            }
        } catch (IOException | NumberFormatException e) {
            return null;
        }
        return null;
    }

    /** The pid names a live process; unless {@code anyProcess}, a JVM. */
    static void requireProcess(int pid, boolean anyProcess) {
        if (pid <= 0) throw new UsageException("pid " + pid + " is not valid: give the pid of a running process");
        Path proc = Path.of("/proc/" + pid);
        if (!Files.isDirectory(proc)) {
            throw new UsageException("no process with pid " + pid + ": check the pid (e.g. with 'ps -p " + pid + "' or 'jps')");
        }
        if (pid == ProcessHandle.current().pid()) throw new UsageException("checkpointd cannot protect itself (pid " + pid + ")");
        if (anyProcess) return;
        if (!isJvm(pid)) {
            throw new UsageException("pid " + pid + " (" + comm(pid) + ") is not a JVM: checkpointd protects JVMs; "
                    + "pass --any-process to protect it anyway");
        }
    }

    static boolean isJvm(int pid) {
        try {
            List<String> maps = Files.readAllLines(Path.of("/proc/" + pid + "/maps"));
            for (String l : maps) if (l.endsWith("/libjvm.so")) return true;
        } catch (IOException e) {
            return false;
        }
        return false;
    }

    static String comm(int pid) {
        try {
            return Files.readAllLines(Path.of("/proc/" + pid + "/comm")).get(0).trim();
        } catch (IOException | IndexOutOfBoundsException e) {
            return "?";
        }
    }

    /**
     * The process writes no file outside {@code dataDirs}: every regular file it holds open for writing, or maps
     * shared and writable, is inside one of them. Such a file would not be replicated, and CRIU refuses to restore a
     * process whose open file changed size. Not counted: devices ({@code /dev}), {@code /proc}, {@code /sys}, pipes,
     * sockets, anonymous inodes, memfds, deleted files (CRIU carries their contents in the image), and the JVM's perf-data
     * file.
     */
    static void requireReplicatedWrites(int pid, List<Path> dataDirs) {
        String bad = unreplicatedWrite(pid, dataDirs);
        if (bad != null) {
            throw new UsageException("pid " + pid + " has " + bad + " outside its data dirs, so a restore would not see "
                    + "its changes: add its directory with --data-dir, or pass --allow-unreplicated");
        }
    }

    /** The first file {@code pid} writes outside {@code dataDirs} (described), or null. */
    static String unreplicatedWrite(int pid, List<Path> dataDirs) {
        Path fds = Path.of("/proc/" + pid + "/fd");
        try (var s = Files.list(fds)) {
            for (Path fd : (Iterable<Path>) s::iterator) {
                String target;
                int flags;
                try {
                    target = Files.readSymbolicLink(fd).toString();
                    flags = fdFlags(pid, fd.getFileName().toString());
                } catch (IOException e) {
                    continue; // closed meanwhile
                }
                if ((flags & 3) == 0) continue; // O_RDONLY
                if (counts(target, dataDirs)) return target + " open for writing (fd " + fd.getFileName() + ")";
            }
            for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/maps"))) {
                String[] f = l.split("\\s+", 6);
                // the JVM's perf data is carried with each CRIU dump and recreated at restore (HostFiles)
                if (f.length == 6 && f[1].length() == 4 && f[1].charAt(1) == 'w' && f[1].charAt(3) == 's' && counts(f[5], dataDirs)
                        && !HostFiles.isPerfData(f[5])) {
                    return f[5] + " mapped shared and writable";
                }
            }
        } catch (IOException | java.io.UncheckedIOException e) {
            return null; // the process is gone: protect says so next
        }
        return null;
    }

    private static boolean counts(String target, List<Path> dataDirs) {
        if (!target.startsWith("/") || target.endsWith(" (deleted)") || target.startsWith("/memfd:")) return false;
        for (String skip : new String[] {"/dev/", "/proc/", "/sys/", "/SYSV"}) if (target.startsWith(skip)) return false;
        Path p = Path.of(target);
        for (Path d : dataDirs) if (p.startsWith(d)) return false;
        return Files.isRegularFile(p); // named pipes and sockets in the filesystem are not files to replicate
    }

    private static int fdFlags(int pid, String fd) throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/fdinfo/" + fd))) {
            if (l.startsWith("flags:")) return Integer.parseInt(l.substring(6).trim(), 8);
        }
        throw new IOException("no flags in fdinfo " + fd);
    }
}
