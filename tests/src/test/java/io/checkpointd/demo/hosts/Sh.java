package io.checkpointd.demo.hosts;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs short administrative commands (ip, iptables) to completion, bounded in time; every child is reaped. */
public final class Sh {
    private Sh() {
    }

    /** Runs {@code cmd}; throws with its output if it fails. @return its output (stdout and stderr) */
    static String run(String... cmd) throws IOException {
        Result r = tryRun(cmd);
        if (r.exit != 0) throw new IOException(String.join(" ", cmd) + " failed (" + r.exit + "): " + r.output.strip());
        return r.output;
    }

    public record Result(int exit, String output) {
    }

    /** Runs {@code cmd} (at most 30 s) and returns its exit code and output. */
    static Result tryRun(String... cmd) throws IOException {
        Process p = new ProcessBuilder(List.of(cmd)).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        try {
            byte[] out = p.getInputStream().readAllBytes(); // ends when the child exits (nothing here daemonizes)
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor();
                throw new IOException(String.join(" ", cmd) + " did not finish in 30 s");
            }
            return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted running " + String.join(" ", cmd));
        }
    }
}
