package io.checkpointd.cli;

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
}
