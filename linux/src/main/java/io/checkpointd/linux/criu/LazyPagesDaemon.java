package io.checkpointd.linux.criu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;

/**
 * A {@code criu lazy-pages} daemon: it serves a lazily restored process's private anonymous memory from an image
 * directory through userfaultfd, page faults first, the rest in the background, and exits once every page is in.
 * Start it before {@link Criu#restore} with {@link RestoreOptions#lazyPages()} on the same image and work dir (the
 * restore hands it the process's userfaultfds over {@code lazy-pages.socket} there). The process is this JVM's
 * child: {@link #awaitExit} reaps it; {@link #close} ends it only if it still runs, which leaves a process it
 * serves unable to fault in what is missing, so only a failed restore closes it early.
 */
public final class LazyPagesDaemon implements AutoCloseable {
    static final String SOCKET = "lazy-pages.socket";
    /** Its log, in the work dir. */
    public static final String LOG = "lazy-pages.log";

    private final Process process;
    private final Path workDir;
    private final long startNanos;
    private volatile long exitedNanos;

    private LazyPagesDaemon(Process process, Path workDir, long startNanos) {
        this.process = process;
        this.workDir = workDir;
        this.startNanos = startNanos;
    }

    /**
     * Starts the daemon on {@code images} and waits, up to {@code ready}, until it listens in {@code workDir}.
     *
     * @throws CriuException if it exits or does not listen in time (its log is quoted)
     */
    public static LazyPagesDaemon start(Criu criu, Path images, Path workDir, Duration ready) throws CriuException, InterruptedException {
        String op = "lazy-pages daemon on " + images;
        Path socket = workDir.resolve(SOCKET);
        Process p;
        try {
            Files.createDirectories(workDir);
            Files.deleteIfExists(socket);
            p = new ProcessBuilder(criu.binary().toString(), "lazy-pages", "-D", images.toString(), "-W", workDir.toString(),
                    "-o", LOG, "-v4").redirectErrorStream(true).redirectOutput(workDir.resolve("lazy-pages.out").toFile()).start();
        } catch (IOException e) {
            throw new CriuException(op + " (cannot start " + criu.binary() + ": " + e.getMessage() + ")", 0, 0, null, null);
        }
        LazyPagesDaemon d = new LazyPagesDaemon(p, workDir, System.nanoTime());
        long deadline = System.nanoTime() + ready.toNanos();
        while (!Files.exists(socket)) {
            if (!p.isAlive() || System.nanoTime() - deadline > 0) {
                d.close();
                throw new CriuException(op + (p.isAlive() ? " (not listening after " + ready.toMillis() + " ms)" : " (exited " + p.exitValue() + ")"),
                        0, 0, workDir.resolve(LOG), Criu.tail(workDir.resolve(LOG)));
            }
            Thread.sleep(2);
        }
        return d;
    }

    public long pid() {
        return process.pid();
    }

    /** Its log file ({@code -v4}). */
    public Path log() {
        return workDir.resolve(LOG);
    }

    /** Waits up to {@code max} for the daemon to exit (every page served); its exit code, or empty if it still runs. */
    public OptionalInt awaitExit(Duration max) throws InterruptedException {
        if (!process.waitFor(max.toMillis(), TimeUnit.MILLISECONDS)) return OptionalInt.empty();
        if (exitedNanos == 0) exitedNanos = System.nanoTime();
        return OptionalInt.of(process.exitValue());
    }

    /** {@link System#nanoTime()} when {@link #awaitExit} first saw it exit (every page present), 0 before. */
    public long exitedNanos() {
        return exitedNanos;
    }

    /** {@link System#nanoTime()} when it was started. */
    public long startNanos() {
        return startNanos;
    }

    /**
     * Pages it copied into the processes it served, from its log's {@code UFFD transferred pages: (copied/total)}
     * lines (one per process, written as it finishes one; debug level, hence {@code -v4}); empty if there are none.
     */
    public java.util.OptionalLong transferredPages() {
        try (var lines = Files.lines(workDir.resolve(LOG), java.nio.charset.StandardCharsets.ISO_8859_1)) {
            long[] sum = {0, 0};
            lines.forEach(l -> {
                var m = TRANSFERRED.matcher(l);
                if (m.find()) {
                    sum[0] += Long.parseLong(m.group(1));
                    sum[1]++;
                }
            });
            return sum[1] == 0 ? java.util.OptionalLong.empty() : java.util.OptionalLong.of(sum[0]);
        } catch (IOException | java.io.UncheckedIOException e) {
            return java.util.OptionalLong.empty();
        }
    }

    private static final java.util.regex.Pattern TRANSFERRED = java.util.regex.Pattern.compile("UFFD transferred pages: \\((\\d+)/\\d+\\)");

    /** The last lines of its log, for an error message. */
    public String logTail() {
        return Criu.tail(workDir.resolve(LOG));
    }

    /** Ends the daemon if it still runs, and reaps it. */
    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(5, TimeUnit.SECONDS);
        }
    }
}
