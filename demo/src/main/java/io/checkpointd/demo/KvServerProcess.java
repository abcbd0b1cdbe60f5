package io.checkpointd.demo;

import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * A {@link KvServer} running as its own JVM, the way checkpointd protects it. Owns the child process:
 * {@link #close()} kills it by PID ({@link Process#destroyForcibly()}) and reaps it, so tests never end
 * processes by name and never leave zombies.
 *
 * <p>The child's stdin/stdout/stderr are {@code /dev/null}, as in production: a pipe to the parent
 * would be an external resource CRIU cannot checkpoint.
 */
public final class KvServerProcess implements AutoCloseable {
    /**
     * JVM flags that keep the service small and checkpointable. {@code -XX:-UsePerfData} matters most:
     * otherwise the JVM keeps a shared, constantly written mmap of {@code /tmp/hsperfdata_<user>/<pid>},
     * which CRIU would have to restore on a host where that file does not exist.
     */
    public static final List<String> RECOMMENDED_JVM_ARGS =
            List.of("-XX:-UsePerfData", "-Xms16m", "-Xmx64m", "-XX:+UseSerialGC", "-Xss512k");

    private final Process process;
    private final int port;
    private final String host;

    private KvServerProcess(Process process, String host, int port) {
        this.process = process;
        this.host = host;
        this.port = port;
    }

    /**
     * The command line that starts a server: {@code <java> <jvmArgs> -cp <classpath>
     * io.checkpointd.demo.KvServer --host H --port P [--port-file F]}.
     */
    public static List<String> command(String javaBinary, List<String> jvmArgs, String classpath, String host,
            int port, Path portFile) {
        List<String> cmd = new ArrayList<>();
        cmd.add(javaBinary);
        cmd.addAll(jvmArgs);
        cmd.addAll(List.of("-cp", classpath, KvServer.class.getName(), "--host", host, "--port",
                Integer.toString(port)));
        if (portFile != null) {
            cmd.addAll(List.of("--port-file", portFile.toString()));
        }
        return cmd;
    }

    /** The {@code java} binary of the running JVM. */
    public static String currentJava() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /**
     * Starts a server on an ephemeral port of 127.0.0.1 with {@link #RECOMMENDED_JVM_ARGS} and waits
     * until it has written its port file.
     *
     * @param classpath    class path holding this package (e.g. {@code System.getProperty("java.class.path")})
     * @param portFile     where the child writes its port; must not exist yet
     * @param startTimeout how long to wait for the port file
     */
    public static KvServerProcess start(String classpath, Path portFile, Duration startTimeout) throws IOException {
        return start(command(currentJava(), RECOMMENDED_JVM_ARGS, classpath, "127.0.0.1", 0, portFile), "127.0.0.1",
                portFile, startTimeout);
    }

    /**
     * Starts {@code command} (which must pass {@code --port-file portFile}) and waits for the port file.
     * On any failure the child is killed and reaped before the exception propagates.
     */
    public static KvServerProcess start(List<String> command, String host, Path portFile, Duration startTimeout)
            throws IOException {
        return start(command, host, portFile, startTimeout, null);
    }

    /**
     * As {@link #start(List, String, Path, Duration)}; with {@code stdoutLog} not null, the child's stdout and stderr
     * are one pipe that a daemon thread of this JVM drains into {@code stdoutLog}, the way a service piped into a
     * logger runs.
     */
    public static KvServerProcess start(List<String> command, String host, Path portFile, Duration startTimeout, Path stdoutLog)
            throws IOException {
        Objects.requireNonNull(portFile, "portFile");
        File devNull = new File("/dev/null");
        ProcessBuilder pb = new ProcessBuilder(command).redirectInput(devNull);
        if (stdoutLog == null) {
            pb.redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD);
        } else {
            pb.redirectErrorStream(true);
        }
        Process p = pb.start();
        if (stdoutLog != null) drain(p, stdoutLog);
        try {
            long deadline = System.nanoTime() + startTimeout.toNanos();
            while (true) {
                Integer port = readPort(portFile);
                if (port != null) {
                    return new KvServerProcess(p, host, port);
                }
                if (!p.isAlive()) {
                    throw new IOException("KvServer exited with status " + p.exitValue() + " before binding");
                }
                if (System.nanoTime() - deadline > 0) {
                    throw new IOException("KvServer did not write " + portFile + " within " + startTimeout);
                }
                Thread.sleep(20);
            }
        } catch (IOException | RuntimeException | Error e) {
            kill(p);
            throw e;
        } catch (InterruptedException e) {
            kill(p);
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for KvServer", e);
        }
    }

    private static void drain(Process p, Path log) {
        Thread t = new Thread(() -> {
            try (var in = p.getInputStream(); var out = Files.newOutputStream(log, java.nio.file.StandardOpenOption.CREATE,
                    java.nio.file.StandardOpenOption.APPEND)) {
                byte[] buf = new byte[8192];
                for (int n; (n = in.read(buf)) > 0; ) {
                    out.write(buf, 0, n);
                    out.flush();
                }
            } catch (IOException e) {
                // the child is gone; what it wrote is in the file
            }
        }, "service-stdout-" + p.pid());
        t.setDaemon(true);
        t.start();
    }

    private static Integer readPort(Path portFile) throws IOException {
        String s;
        try {
            s = Files.readString(portFile).trim();
        } catch (NoSuchFileException e) {
            return null;
        }
        // the file appears complete (atomic rename), so an unparsable one is a real error
        return Integer.parseInt(s);
    }

    /** The child's PID. */
    public long pid() {
        return process.pid();
    }

    /** The port the child bound. */
    public int port() {
        return port;
    }

    /** Address to connect to. */
    public InetSocketAddress address() {
        return new InetSocketAddress(host, port);
    }

    /** The child process. */
    public Process process() {
        return process;
    }

    /** Whether the child is still running. */
    public boolean isAlive() {
        return process.isAlive();
    }

    /** Kills the child (SIGKILL to its PID) and waits for it to be reaped; idempotent. */
    @Override
    public void close() {
        kill(process);
    }

    private static void kill(Process p) {
        p.destroyForcibly();
        boolean interrupted = false;
        for (int attempt = 0; attempt < 6; attempt++) { // bounded: never hang a test run forever
            try {
                if (p.waitFor(10, TimeUnit.SECONDS)) {
                    break;
                }
            } catch (InterruptedException e) {
                interrupted = true; // still reap: a zombie would outlive the test
            }
            p.destroyForcibly();
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
