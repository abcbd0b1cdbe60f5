package io.checkpointd.linux.criu;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What to restore and how; build with {@link #builder(Path)}. Immutable. {@code fileLocks}, {@code shellJob} and
 * {@code tcpMode} should match what the dump used.
 */
public final class RestoreOptions {
    /** Default bound on waiting for the image's pids/tids to be free before restoring. */
    public static final Duration DEFAULT_PIDS_FREE_TIMEOUT = Duration.ofSeconds(10);

    private final Path imagesDir;
    private final boolean detached;
    private final TcpMode tcpMode;
    private final String logFile;
    private final int logLevel;
    private final boolean fileLocks;
    private final CgroupMode cgroupMode;
    private final boolean shellJob;
    private final boolean networkLock;
    private final boolean lazyPages;
    private final Path workDir;
    private final Duration pidsFreeTimeout;
    private final Map<String, Integer> inheritFds;
    private final BeforeResume beforeResume;

    /** Runs on the restored tree before any of it runs again (CRIU's {@code post-restore} action). */
    @FunctionalInterface
    public interface BeforeResume {
        /** @param pid the restored root; an exception aborts the restore (CRIU kills the restored tree) */
        void restored(int pid) throws Exception;
    }

    private RestoreOptions(Builder b) {
        this.imagesDir = b.imagesDir;
        this.detached = b.detached;
        this.tcpMode = b.tcpMode;
        this.logFile = b.logFile;
        this.logLevel = b.logLevel;
        this.fileLocks = b.fileLocks;
        this.cgroupMode = b.cgroupMode;
        this.shellJob = b.shellJob;
        this.networkLock = b.networkLock;
        this.lazyPages = b.lazyPages;
        this.workDir = b.workDir;
        this.pidsFreeTimeout = b.pidsFreeTimeout;
        this.inheritFds = Map.copyOf(b.inheritFds);
        this.beforeResume = b.beforeResume;
    }

    public static Builder builder(Path imagesDir) {
        return new Builder(imagesDir);
    }

    public Path imagesDir() { return imagesDir; }

    /**
     * True (default): {@code criu_restore}, the restored root is re-parented to the caller's nearest child subreaper
     * (see {@link Reaper#becomeChildSubreaper()}) or to pid 1. False: {@code criu_restore_child}, the root becomes a
     * direct child of this JVM. Either way this JVM (or pid 1) must reap it: use {@link Reaper}.
     */
    public boolean detached() { return detached; }

    public TcpMode tcpMode() { return tcpMode; }

    public String logFile() { return logFile; }

    public int logLevel() { return logLevel; }

    public boolean fileLocks() { return fileLocks; }

    /** CRIU's --manage-cgroups mode; {@link CgroupMode#IGNORE} by default (see there why). */
    public CgroupMode cgroupMode() { return cgroupMode; }

    public boolean shellJob() { return shellJob; }

    /**
     * Whether CRIU locks the connections of {@link TcpMode#ESTABLISHED} with iptables/nftables rules of its own
     * (its default). False ({@code --network-lock skip}): the caller holds the peers off itself.
     */
    public boolean networkLock() { return networkLock; }

    /**
     * CRIU's {@code --lazy-pages}: private anonymous memory is not copied in; a {@link LazyPagesDaemon} started on
     * the same image and work dir serves it through userfaultfd as the process touches it, and copies the rest in
     * the background. The restored process runs before all its pages are present.
     */
    public boolean lazyPages() { return lazyPages; }

    public Optional<Path> workDir() { return Optional.ofNullable(workDir); }

    public Path effectiveWorkDir() { return workDir != null ? workDir : imagesDir; }

    /**
     * CRIU's {@code --inherit-fd fd[N]:KEY}: the image's file named {@code KEY} ({@code pipe:[ino]},
     * {@code socket:[ino]}) is replaced by the caller's open fd {@code N}, which must not be close-on-exec.
     */
    public Map<String, Integer> inheritFds() { return inheritFds; }

    /** How long restore waits for the pids/tids of the image to be free; zero skips the wait. */
    public Duration pidsFreeTimeout() { return pidsFreeTimeout; }

    /** What runs on the restored tree before it resumes, e.g. moving it to a cgroup of its own. */
    public Optional<BeforeResume> beforeResume() { return Optional.ofNullable(beforeResume); }

    @Override
    public String toString() {
        return "RestoreOptions[imagesDir=" + imagesDir + ", detached=" + detached + ", tcp=" + tcpMode + ", log="
                + logFile + "@" + logLevel + ", fileLocks=" + fileLocks + ", shellJob=" + shellJob + ", workDir="
                + workDir + ", pidsFreeTimeout=" + pidsFreeTimeout + (lazyPages ? ", lazy" : "") + "]";
    }

    /** Builder for {@link RestoreOptions}. Not thread-safe. */
    public static final class Builder {
        private final Path imagesDir;
        private boolean detached = true;
        private TcpMode tcpMode = TcpMode.DEFAULT;
        private String logFile = "restore.log";
        private int logLevel = 2;
        private boolean fileLocks = true;
        private CgroupMode cgroupMode = CgroupMode.IGNORE;
        private boolean shellJob;
        private boolean networkLock = true;
        private boolean lazyPages;
        private Path workDir;
        private Duration pidsFreeTimeout = DEFAULT_PIDS_FREE_TIMEOUT;
        private final Map<String, Integer> inheritFds = new java.util.LinkedHashMap<>();
        private BeforeResume beforeResume;

        private Builder(Path imagesDir) {
            this.imagesDir = Objects.requireNonNull(imagesDir, "imagesDir");
        }

        public Builder detached(boolean v) { this.detached = v; return this; }

        public Builder tcpMode(TcpMode v) { this.tcpMode = Objects.requireNonNull(v, "tcpMode"); return this; }

        public Builder logFile(String name) { this.logFile = DumpOptions.checkLogName(name); return this; }

        public Builder logLevel(int level) { this.logLevel = DumpOptions.checkLevel(level); return this; }

        public Builder fileLocks(boolean v) { this.fileLocks = v; return this; }

        public Builder cgroupMode(CgroupMode m) { this.cgroupMode = Objects.requireNonNull(m, "cgroupMode"); return this; }

        public Builder shellJob(boolean v) { this.shellJob = v; return this; }

        public Builder networkLock(boolean v) { this.networkLock = v; return this; }

        public Builder lazyPages(boolean v) { this.lazyPages = v; return this; }

        public Builder workDir(Path dir) { this.workDir = dir; return this; }

        public Builder pidsFreeTimeout(Duration d) {
            if (d.isNegative()) throw new IllegalArgumentException("negative timeout");
            this.pidsFreeTimeout = d;
            return this;
        }

        /** See {@link RestoreOptions#inheritFds()}. */
        public Builder inheritFd(String key, int fd) {
            if (fd < 0) throw new IllegalArgumentException("fd must be >= 0: " + fd);
            inheritFds.put(Objects.requireNonNull(key, "key"), fd);
            return this;
        }
        public Builder beforeResume(BeforeResume hook) { this.beforeResume = hook; return this; }

        public RestoreOptions build() { return new RestoreOptions(this); }
    }
}
