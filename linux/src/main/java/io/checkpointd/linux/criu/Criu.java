package io.checkpointd.linux.criu;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;
import io.checkpointd.linux.FileDescriptor;
import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.Syscalls;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.ToIntFunction;

/**
 * Thread-safe facade over libcriu for one located CRIU ({@link #locate()}).
 *
 * <p>Every operation forks the {@code criu} binary in swrk mode (libcriu's {@code CRIU_COMM_BIN}) with its own
 * {@code criu_opts}. Operations are nonetheless serialised across all instances: libcriu reports CRIU's errno
 * through a process-global variable, and two concurrent dumps of one tree would fail anyway.
 */
public final class Criu {
    private static final Logger log = LoggerFactory.getLogger(Criu.class);

    /** Lines of CRIU's log quoted in a {@link CriuException}. */
    static final int LOG_TAIL_LINES = 15;

    private static final ReentrantLock LIBCRIU_LOCK = new ReentrantLock();

    private final CriuInstallation installation;
    private final LibCriu lib;

    private Criu(CriuInstallation installation, LibCriu lib) {
        this.installation = installation;
        this.lib = lib;
    }

    /** Locates CRIU as {@link CriuLocator#system()} does and loads its libcriu. */
    public static Criu locate() throws CriuUnavailableException {
        return open(CriuLocator.system().locate());
    }

    /** Loads the libcriu of an installation found by {@link CriuLocator}. */
    public static Criu open(CriuInstallation installation) throws CriuUnavailableException {
        try {
            return new Criu(installation, Native.load(installation.library().toString(), LibCriu.class));
        } catch (UnsatisfiedLinkError e) {
            throw new CriuUnavailableException("cannot load " + installation.library() + ": " + e.getMessage()
                    + " (run scripts/install-criu)", e);
        }
    }

    public CriuVersion version() { return installation.version(); }

    public Path binary() { return installation.binary(); }

    public Path library() { return installation.library(); }

    public CriuInstallation installation() { return installation; }

    /**
     * {@code criu check} through libcriu. The RPC check carries no log options (CRIU logs it to the worker's
     * stderr), so on failure the binary is run once more as {@code criu check} to quote what it says.
     */
    public void check() throws CriuException {
        Result r = call("check", o -> lib.criu_local_check(o), o -> { });
        if (r.rc() < 0) {
            throw new CriuException("check", r.rc(), r.errno(), null, runCheckForOutput());
        }
    }

    /**
     * {@code criu_feature_check} for {@code mem_track}, {@code lazy_pages} and {@code pidfd_store}. A missing
     * feature maps to false; on this project's kernels {@code mem_track} is false (no {@code CONFIG_MEM_SOFT_DIRTY}).
     */
    public Map<String, Boolean> featureCheck() throws CriuException {
        // struct criu_feature_check { bool mem_track; bool lazy_pages; bool pidfd_store; } -- 3 bytes, no padding
        Memory features = new Memory(3);
        features.setByte(0, (byte) 1);
        features.setByte(1, (byte) 1);
        features.setByte(2, (byte) 1);
        Result r = call("feature check", o -> lib.criu_local_feature_check(o, features, 3), o -> { });
        if (r.rc() < 0) throw new CriuException("feature check", r.rc(), r.errno(), null, null);
        Map<String, Boolean> m = new LinkedHashMap<>();
        m.put("mem_track", features.getByte(0) != 0);
        m.put("lazy_pages", features.getByte(1) != 0);
        m.put("pidfd_store", features.getByte(2) != 0);
        return m;
    }

    /** Dumps the tree rooted at {@code opts.pid()} into {@code opts.imagesDir()}. */
    public void dump(DumpOptions opts) throws CriuException {
        String op = "dump of pid " + opts.pid() + " into " + opts.imagesDir();
        Path logPath = opts.effectiveWorkDir().resolve(opts.logFile());
        try (FileDescriptor images = openDir(opts.imagesDir(), op);
             FileDescriptor work = opts.workDir().isPresent() ? openDir(opts.workDir().get(), op) : null) {
            String parent = opts.parentImagesDir()
                    .map(p -> opts.imagesDir().toAbsolutePath().normalize().relativize(p.toAbsolutePath().normalize()).toString())
                    .orElse(null);
            long t0 = System.nanoTime();
            Result r = call(op, o -> lib.criu_local_dump(o), o -> {
                lib.criu_local_set_pid(o, opts.pid());
                lib.criu_local_set_images_dir_fd(o, images.fd());
                if (work != null) lib.criu_local_set_work_dir_fd(o, work.fd());
                if (parent != null) check(lib.criu_local_set_parent_images(o, parent), "parent images");
                lib.criu_local_set_leave_running(o, opts.leaveRunning());
                setTcp(o, opts.tcpMode());
                if (!opts.networkLock()) check(lib.criu_local_set_network_lock(o, NETWORK_LOCK_SKIP), "network lock");
                lib.criu_local_set_ghost_limit(o, (int) opts.ghostLimit()); // unsigned int in C
                check(lib.criu_local_set_log_file(o, opts.logFile()), "log file");
                lib.criu_local_set_log_level(o, opts.logLevel());
                if (opts.freezeCgroup().isPresent()) {
                    check(lib.criu_local_set_freeze_cgroup(o, opts.freezeCgroup().get()), "freeze cgroup");
                }
                lib.criu_local_set_file_locks(o, opts.fileLocks());
                lib.criu_local_set_manage_cgroups_mode(o, opts.cgroupMode().code());
                lib.criu_local_set_tcp_skip_in_flight(o, opts.skipInFlight());
                lib.criu_local_set_shell_job(o, opts.shellJob());
                lib.criu_local_set_track_mem(o, opts.trackMem());
                for (long ino : opts.externalUnixSockets()) check(lib.criu_local_add_unix_sk(o, (int) ino), "external unix socket " + ino);
                if (opts.skipPagesIn().isPresent()) check(lib.criu_local_set_config_file(o, skipConfig(opts).toString()), "config file");
            });
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            if (r.rc() < 0) throw new CriuException(op, r.rc(), r.errno(), logPath, tail(logPath));
            log.debug("criu dumped pid {} into {} in {} ms (leaveRunning={})", opts.pid(), opts.imagesDir(), ms,
                    opts.leaveRunning());
        } catch (SyscallException e) {
            throw new CriuException(op + " (" + e.getMessage() + ")", 0, e.errno(), null, null);
        }
    }

    /**
     * Whether this CRIU has {@code --skip-pages-in} (checkpointd's patch, scripts/criu-patches): asks {@code criu
     * --help} once. Without it a dump cannot leave out pages the caller copied itself.
     */
    public boolean canSkipPages() {
        return answers(List.of("--help"), "--skip-pages-in", "--skip-pages-in");
    }

    /**
     * Whether this CRIU's lazy-pages daemon serves lazy pages whose data is in a parent image ({@code PE_PARENT |
     * PE_LAZY}): checkpointd's CRIU patch 0002, found by {@code criu check --feature uffd-parent-pages}. Unpatched,
     * such a page is read and never copied in, and the process waits for it for ever. Asked once.
     */
    public boolean canServeLazyParentPages() {
        return answers(List.of("check", "--feature", "uffd-parent-pages"), "uffd-parent-pages is supported", "lazy pages through a parent image");
    }

    /** What this CRIU's patches add, each asked once: whether its output for the arguments contains the text. */
    private final java.util.concurrent.ConcurrentHashMap<List<String>, Boolean> features = new java.util.concurrent.ConcurrentHashMap<>();

    private boolean answers(List<String> args, String text, String feature) {
        return features.computeIfAbsent(args, a -> {
            List<String> cmd = new java.util.ArrayList<>(List.of(binary().toString()));
            cmd.addAll(a);
            String out = runForOutput(cmd);
            boolean b = out != null && out.contains(text);
            log.info("{} {} {}", binary(), b ? "has" : "lacks", feature);
            return b;
        });
    }

    /** libcriu has no setter for a patch's option: it goes in a config file CRIU reads after the RPC options. */
    private static Path skipConfig(DumpOptions opts) throws CriuException {
        Path conf = opts.effectiveWorkDir().resolve("skip-pages.conf");
        try {
            Files.writeString(conf, "skip-pages-in " + opts.skipPagesIn().get().toAbsolutePath() + "\n");
        } catch (IOException e) {
            throw new CriuException("writing " + conf + ": " + e.getMessage(), 0, 0, null, null);
        }
        return conf;
    }

    /**
     * Restores the tree in {@code opts.imagesDir()} and returns the pid of its root. First waits (bounded by
     * {@link RestoreOptions#pidsFreeTimeout()}) until every pid/tid the image needs is free: right after the
     * original died, a thread id may still be taken and CRIU would fail with "Can't fork for PID: File exists".
     */
    public int restore(RestoreOptions opts) throws CriuException {
        String op = "restore from " + opts.imagesDir();
        Path logPath = opts.effectiveWorkDir().resolve(opts.logFile());
        if (!opts.pidsFreeTimeout().isZero()) {
            Set<Integer> ids;
            try {
                ids = imagePids(opts.imagesDir());
            } catch (IOException e) {
                throw new CriuException(op + " (cannot list the image: " + e.getMessage() + ")", 0, 0, null, null);
            }
            Set<Integer> busy = waitForPidsFree(ids, opts.pidsFreeTimeout());
            if (!busy.isEmpty()) {
                List<String> who = new ArrayList<>();
                for (int id : busy) who.add(Reaper.describe(id));
                throw new CriuException(op, 0, 0, null, "ids the image needs are still in use after "
                        + opts.pidsFreeTimeout().toMillis() + " ms: " + String.join(", ", who)
                        + (who.stream().anyMatch(s -> s.contains("state Z")) ? "\nzombies: their parent does not reap"
                        + " them (see Reaper.becomeChildSubreaper)" : ""));
            }
        }
        PostRestore hook = opts.beforeResume().map(h -> new PostRestore(lib, h)).orElse(null);
        try (FileDescriptor images = openDir(opts.imagesDir(), op);
             FileDescriptor work = opts.workDir().isPresent() ? openDir(opts.workDir().get(), op) : null) {
            long t0 = System.nanoTime();
            Result r = call(op, o -> opts.detached() ? lib.criu_local_restore(o) : lib.criu_local_restore_child(o), o -> {
                if (hook != null) lib.criu_local_set_notify_cb(o, hook);
                lib.criu_local_set_images_dir_fd(o, images.fd());
                if (work != null) lib.criu_local_set_work_dir_fd(o, work.fd());
                setTcp(o, opts.tcpMode());
                if (!opts.networkLock()) check(lib.criu_local_set_network_lock(o, NETWORK_LOCK_SKIP), "network lock");
                check(lib.criu_local_set_log_file(o, opts.logFile()), "log file");
                lib.criu_local_set_log_level(o, opts.logLevel());
                lib.criu_local_set_file_locks(o, opts.fileLocks());
                lib.criu_local_set_manage_cgroups_mode(o, opts.cgroupMode().code());
                lib.criu_local_set_shell_job(o, opts.shellJob());
                if (opts.lazyPages()) check(lib.criu_local_set_config_file(o, lazyConfig(opts).toString()), "lazy-pages config");
                for (Map.Entry<String, Integer> e : opts.inheritFds().entrySet()) {
                    check(lib.criu_local_add_inherit_fd(o, e.getValue(), e.getKey()), "inherit fd " + e.getKey());
                }
            });
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            if (hook != null && hook.failure != null) {
                throw new CriuException(op + " (aborted before the restored process ran: " + hook.failure + ")", r.rc(),
                        r.errno(), logPath, null);
            }
            if (r.rc() <= 0) throw new CriuException(op, r.rc(), r.errno(), logPath, tail(logPath));
            if (hook != null && !hook.ran) {
                throw new CriuException(op + " (CRIU never reached post-restore: the restored process is not placed)", r.rc(), 0, logPath, null);
            }
            log.info("criu restored {} as pid {} in {} ms", opts.imagesDir(), r.rc(), ms);
            return r.rc();
        } catch (SyscallException e) {
            throw new CriuException(op + " (" + e.getMessage() + ")", 0, e.errno(), null, null);
        }
    }

    /**
     * The ids (pids and tids) a dump needs at restore: CRIU writes one {@code core-<tid>.img} per thread of every
     * process in the tree, the main thread's tid being the pid.
     */
    public static Set<Integer> imagePids(Path imagesDir) throws IOException {
        Set<Integer> ids = new TreeSet<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(imagesDir, "core-*.img")) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                try {
                    ids.add(Integer.parseInt(n.substring(5, n.length() - 4)));
                } catch (NumberFormatException ignored) {
                    // not a per-thread core image
                }
            }
        }
        if (ids.isEmpty()) throw new IOException("no core-*.img in " + imagesDir + ": not a CRIU dump");
        return ids;
    }

    /**
     * Waits, up to {@code max}, until none of {@code ids} exists as a process or thread ({@code /proc/<id>} absent;
     * a zombie still holds its pid). Logs when it had to wait.
     *
     * @return the ids still in use at the deadline (empty when all are free)
     */
    public static Set<Integer> waitForPidsFree(Collection<Integer> ids, Duration max) {
        long start = System.nanoTime(), deadline = start + max.toNanos();
        Set<Integer> busy = new TreeSet<>(ids);
        boolean waited = false;
        while (true) {
            busy.removeIf(Reaper::isGone);
            if (busy.isEmpty()) {
                if (waited) {
                    log.info("waited {} ms for the image's pids/tids to be free",
                            TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
                }
                return busy;
            }
            if (!waited) log.info("pids/tids {} still in use; waiting up to {} ms before restoring", busy, max.toMillis());
            waited = true;
            if (System.nanoTime() - deadline > 0) {
                log.warn("pids/tids {} still in use after {} ms", busy, max.toMillis());
                return busy;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return busy;
            }
        }
    }

    /** A CRIU config file saying {@code lazy-pages}, in the restore's work dir: libcriu has no setter for it. */
    private static Path lazyConfig(RestoreOptions opts) throws CriuException {
        Path f = opts.effectiveWorkDir().resolve("restore-lazy.conf");
        try {
            Files.writeString(f, "lazy-pages\n");
        } catch (IOException e) {
            throw new CriuException("restore from " + opts.imagesDir() + " (cannot write " + f + ": " + e.getMessage() + ")", 0, 0, null, null);
        }
        return f;
    }

    // ---------------------------------------------------------------------------------------------------------

    /** A libcriu result and the errno read right after it, under the lock (libcriu's saved errno is global). */
    private record Result(int rc, int errno) {
    }

    private interface OptsSetter {
        void set(Pointer opts) throws CriuException;
    }

    /** Allocates a criu_opts, points it at our binary, applies {@code setup}, runs {@code op}, frees the opts. */
    private Result call(String what, ToIntFunction<Pointer> op, OptsSetter setup) throws CriuException {
        LIBCRIU_LOCK.lock();
        PointerByReference ref = new PointerByReference(Pointer.NULL);
        try {
            if (lib.criu_local_init_opts(ref) != 0) {
                throw new CriuException(what + " (criu_local_init_opts)", -1, Native.getLastError(), null, null);
            }
            Pointer opts = ref.getValue();
            try {
                check(lib.criu_local_set_service_binary(opts, installation.binary().toString()), "service binary");
                setup.set(opts);
                int rc = op.applyAsInt(opts);
                return new Result(rc, rc < 0 ? Native.getLastError() : 0);
            } finally {
                lib.criu_local_free_opts(opts);
            }
        } finally {
            LIBCRIU_LOCK.unlock();
        }
    }

    private static final int NETWORK_LOCK_SKIP = 3;

    private void setTcp(Pointer o, TcpMode mode) {
        switch (mode) {
            case ESTABLISHED -> lib.criu_local_set_tcp_established(o, true);
            case CLOSE -> lib.criu_local_set_tcp_close(o, true);
            case DEFAULT -> { }
        }
    }

    private static void check(int rc, String what) throws CriuException {
        if (rc != 0) throw new CriuException("setting " + what, rc, 0, null, null);
    }

    private static FileDescriptor openDir(Path dir, String op) throws SyscallException {
        // O_CLOEXEC (added by Syscalls.open) is fine: CRIU opens the dir as /proc/<this pid>/fd/<n>, the RPC peer's fd
        try {
            return Syscalls.open(dir.toString(), Syscalls.O_RDONLY | Syscalls.O_DIRECTORY);
        } catch (SyscallException e) {
            throw new SyscallException("open(" + dir + ")", e.errno(), op);
        }
    }

    /** The last {@link #LOG_TAIL_LINES} lines of a log (reading at most its last 64 KiB). */
    static String tail(Path logFile) {
        try (RandomAccessFile f = new RandomAccessFile(logFile.toFile(), "r")) {
            long len = f.length();
            int n = (int) Math.min(len, 64 * 1024);
            byte[] buf = new byte[n];
            f.seek(len - n);
            f.readFully(buf);
            return lastLines(new String(buf, StandardCharsets.UTF_8), LOG_TAIL_LINES);
        } catch (IOException e) {
            return null;
        }
    }

    static String lastLines(String s, int lines) {
        String[] all = s.strip().split("\n");
        int from = Math.max(0, all.length - lines);
        return String.join("\n", java.util.Arrays.asList(all).subList(from, all.length));
    }

    private String runCheckForOutput() {
        String out = runForOutput(List.of(binary().toString(), "check"));
        return out == null ? "cannot run `" + binary() + " check`" : "`" + binary() + " check` says:\n" + lastLines(out, LOG_TAIL_LINES);
    }

    /** What {@code command} prints (stdout and stderr, at most 256 KiB, within 30 s), or null if it cannot run. */
    private static String runForOutput(List<String> command) {
        Process p = null;
        try {
            p = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
            String out;
            try (InputStream in = p.getInputStream()) {
                out = new String(in.readNBytes(256 * 1024), StandardCharsets.UTF_8);
            }
            p.waitFor(30, TimeUnit.SECONDS);
            return out;
        } catch (IOException e) {
            log.debug("cannot run {}: {}", command, e.getMessage());
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        } finally {
            if (p != null && p.isAlive()) {
                p.destroyForcibly();
                try {
                    p.waitFor(); // reap it
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }
}
