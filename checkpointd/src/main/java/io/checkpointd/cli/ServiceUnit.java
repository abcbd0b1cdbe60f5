package io.checkpointd.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/** The protected service as a systemd unit: its main pid, as {@code systemctl show -p MainPID --value} reports it. */
final class ServiceUnit {
    private static final long TIMEOUT_SECONDS = 10;

    private ServiceUnit() {
    }

    /** The unit's main pid; a usage error when systemctl cannot say or the unit has no running main process. */
    static int mainPid(String unit) {
        if (unit.isBlank() || unit.startsWith("-")) throw new UsageException("--unit needs a unit name, e.g. myservice.service");
        String out;
        int rc;
        try {
            Process p = new ProcessBuilder("systemctl", "show", "-p", "MainPID", "--value", "--", unit)
                    .redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
            try {
                if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    p.waitFor();
                    throw new UsageException("systemctl show " + unit + " did not answer in " + TIMEOUT_SECONDS + " s");
                }
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new UsageException("interrupted while asking systemctl for " + unit);
            }
            out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            rc = p.exitValue();
        } catch (IOException e) {
            throw new UsageException("cannot run systemctl to find the main pid of " + unit + ": " + e.getMessage());
        }
        if (rc != 0 || !out.matches("\\d+")) {
            String why = out.isEmpty() ? "exit " + rc : out.lines().findFirst().orElse(out);
            throw new UsageException("cannot find the main pid of " + unit + ": " + why);
        }
        int pid = Integer.parseInt(out);
        if (pid == 0) throw new UsageException("unit " + unit + " has no main process: is it running?");
        return pid;
    }
}
