package io.checkpointd.linux.testing;

import io.checkpointd.linux.FileDescriptor;
import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.Syscalls;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Processes a test starts: each is tracked and, on {@link #close()}, killed by its own PID and reaped
 * (destroyForcibly + waitFor). Never kills by name.
 */
public final class Children implements AutoCloseable {
    private final List<Process> started = new ArrayList<>();
    private final List<FileDescriptor> grandchildren = new ArrayList<>(); // pidfds: immune to pid reuse

    /**
     * A process that is <em>not</em> this JVM's child, for ptrace tests: the JDK's process-reaper thread
     * waitpid()s for every ProcessBuilder child and would steal its ptrace stops. A shell runs the command in
     * the background (stdin passed on through fd 3: dash gives a background job /dev/null even with an explicit {@code <&0}), prints its pid, and waits for it.
     *
     * @param shell the wrapping shell: its stdin/stdout are the target's
     * @param pid   the target's pid
     */
    public record Grandchild(Process shell, int pid, BufferedReader stdout) {
    }

    public Grandchild startGrandchild(List<String> command) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("/bin/sh", "-c", "exec 3<&0; \"$@\" <&3 3<&- & echo \"CHILDPID $!\"; wait $!", "sh"));
        cmd.addAll(command);
        Process shell = start(new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT));
        BufferedReader out = stdout(shell);
        int pid = Integer.parseInt(readLineStartingWith(out, "CHILDPID ").substring(9).trim());
        grandchildren.add(Syscalls.pidfdOpen(pid));
        return new Grandchild(shell, pid, out);
    }

    /** {@link #java} as a {@link Grandchild}. */
    public Grandchild javaGrandchild(Class<?> main, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(javaCommand(main));
        cmd.addAll(List.of(args));
        return startGrandchild(cmd);
    }

    public Process start(ProcessBuilder pb) throws IOException {
        Process p = pb.start();
        started.add(p);
        return p;
    }

    /** A child JVM running {@code main} from the test classpath, stdin/stdout piped, stderr inherited. */
    public Process java(Class<?> main, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(javaCommand(main));
        cmd.addAll(List.of(args));
        return start(new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT));
    }

    private static List<String> javaCommand(Class<?> main) {
        return List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-cp", System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")),
                main.getName());
    }

    /** Reads lines from the child's stdout until one starts with {@code prefix}; fails at end of stream. */
    public static String readLineStartingWith(BufferedReader out, String prefix) throws IOException {
        for (String line; (line = out.readLine()) != null; ) {
            if (line.startsWith(prefix)) return line;
        }
        throw new IOException("child closed stdout before printing " + prefix);
    }

    public static BufferedReader stdout(Process p) {
        return new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.US_ASCII));
    }

    public static void send(Process p, String line) throws IOException {
        OutputStream in = p.getOutputStream();
        in.write((line + "\n").getBytes(StandardCharsets.US_ASCII));
        in.flush();
    }

    @Override
    public void close() throws InterruptedException {
        // Grandchildren first, by pid: then their shells' wait returns and the shells exit.
        for (FileDescriptor pidfd : grandchildren) {
            try {
                Syscalls.pidfdSendSignal(pidfd, Syscalls.SIGKILL);
            } catch (SyscallException e) {
                // already gone (ESRCH)
            } finally {
                pidfd.close();
            }
        }
        grandchildren.clear();
        for (Process p : started) {
            p.destroyForcibly();
            p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
        }
        started.clear();
    }
}
