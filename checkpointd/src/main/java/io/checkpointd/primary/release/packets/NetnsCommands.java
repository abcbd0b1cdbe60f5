package io.checkpointd.primary.release.packets;

import io.checkpointd.linux.FileDescriptor;
import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.Syscalls;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs {@code ip} and {@code iptables} in the protected process's network namespace. The namespace is held open
 * from the start (a descriptor of {@code /proc/PID/ns/net}), so the rules can still be removed, and the service
 * address taken off the host, after the process died and its {@code /proc} entry is gone.
 */
final class NetnsCommands implements AutoCloseable {
    private static final long TIMEOUT_SECONDS = 30;

    private final FileDescriptor netns;
    private final String path;

    private NetnsCommands(FileDescriptor netns) {
        this.netns = netns;
        this.path = "/proc/" + ProcessHandle.current().pid() + "/fd/" + netns.fd();
    }

    /** Opens the network namespace of {@code pid} (which must be alive now). */
    static NetnsCommands of(int pid) throws SyscallException {
        return new NetnsCommands(Syscalls.open("/proc/" + pid + "/ns/net", Syscalls.O_RDONLY));
    }

    /** What a command printed (stdout and stderr) and its exit status. */
    record Result(int exit, String output) {
    }

    /** Runs {@code cmd} in the namespace, to its end (at most 30 s). */
    Result run(List<String> cmd) throws IOException, InterruptedException {
        List<String> c = new ArrayList<>(List.of("nsenter", "--net=" + path));
        c.addAll(cmd);
        Process p = new ProcessBuilder(c).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes()).strip();
        if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            p.waitFor();
            throw new IOException(String.join(" ", cmd) + " did not finish within " + TIMEOUT_SECONDS + " s");
        }
        return new Result(p.exitValue(), out);
    }

    @Override
    public void close() {
        netns.close();
    }
}
