package io.checkpointd.linux.criu;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What to dump and how; build with {@link #builder(int, Path)}. Immutable.
 *
 * <p>Defaults suit an unmodified JVM: {@code fileLocks} on (embedded databases lock files, and CRIU refuses to dump
 * a lock holder without it; it costs nothing otherwise), a 64 MiB ghost limit (a JVM maps its own libraries, which
 * a package upgrade may have deleted), log level 2 (warnings) into {@code dump.log}.
 */
public final class DumpOptions {
    /** Default {@code --ghost-limit}: big enough for the JDK's largest library ({@code libjvm.so}). */
    public static final long DEFAULT_GHOST_LIMIT = 64L << 20;

    private final int pid;
    private final Path imagesDir;
    private final Path parentImagesDir;
    private final boolean leaveRunning;
    private final TcpMode tcpMode;
    private final long ghostLimit;
    private final String logFile;
    private final int logLevel;
    private final String freezeCgroup;
    private final boolean fileLocks;
    private final boolean skipInFlight;
    private final boolean networkLock;
    private final CgroupMode cgroupMode;
    private final boolean shellJob;
    private final boolean trackMem;
    private final Path workDir;
    private final Path skipPagesIn;
    private final List<Long> externalUnixSockets;

    private DumpOptions(Builder b) {
        this.pid = b.pid;
        this.imagesDir = b.imagesDir;
        this.parentImagesDir = b.parentImagesDir;
        this.leaveRunning = b.leaveRunning;
        this.tcpMode = b.tcpMode;
        this.ghostLimit = b.ghostLimit;
        this.logFile = b.logFile;
        this.logLevel = b.logLevel;
        this.freezeCgroup = b.freezeCgroup;
        this.fileLocks = b.fileLocks;
        this.skipInFlight = b.skipInFlight;
        this.networkLock = b.networkLock;
        this.cgroupMode = b.cgroupMode;
        this.shellJob = b.shellJob;
        this.trackMem = b.trackMem;
        this.workDir = b.workDir;
        this.skipPagesIn = b.skipPagesIn;
        this.externalUnixSockets = List.copyOf(b.externalUnixSockets);
    }

    /** @param pid root of the tree to dump; @param imagesDir existing directory the images go to */
    public static Builder builder(int pid, Path imagesDir) {
        return new Builder(pid, imagesDir);
    }

    public int pid() { return pid; }

    public Path imagesDir() { return imagesDir; }

    /** Images of the previous (pre-)dump, for an incremental dump; absolute or relative to the working directory. */
    public Optional<Path> parentImagesDir() { return Optional.ofNullable(parentImagesDir); }

    public boolean leaveRunning() { return leaveRunning; }

    public TcpMode tcpMode() { return tcpMode; }

    /** Largest deleted-but-mapped file CRIU will copy into the images, in bytes. */
    public long ghostLimit() { return ghostLimit; }

    /** Log file name, created in {@link #effectiveWorkDir()}. */
    public String logFile() { return logFile; }

    public int logLevel() { return logLevel; }

    /** A freezer cgroup holding the tree (e.g. {@code /sys/fs/cgroup/freezer/checkpointd/123}), if used. */
    public Optional<String> freezeCgroup() { return Optional.ofNullable(freezeCgroup); }

    public boolean fileLocks() { return fileLocks; }

    /**
     * CRIU's --skip-in-flight: dump even when a connection sits half-open in a listening socket's queue (else the
     * dump fails under connection churn); such a connection is lost, and its client retries.
     */
    public boolean skipInFlight() { return skipInFlight; }

    /**
     * Whether CRIU locks the connections of {@link TcpMode#ESTABLISHED} with iptables/nftables rules of its own
     * (its default). False ({@code --network-lock skip}): the caller holds the peers off itself.
     */
    public boolean networkLock() { return networkLock; }

    /** CRIU's --manage-cgroups mode; {@link CgroupMode#IGNORE} by default (see there why). */
    public CgroupMode cgroupMode() { return cgroupMode; }

    public boolean shellJob() { return shellJob; }

    public boolean trackMem() { return trackMem; }

    public Optional<Path> workDir() { return Optional.ofNullable(workDir); }

    /**
     * A file of page ranges ({@code start-end} in hex, a line) of private mappings whose pages CRIU leaves out: the
     * caller copied them and merges them into the image. Needs a CRIU with {@link Criu#canSkipPages()}.
     */
    public Optional<Path> skipPagesIn() { return Optional.ofNullable(skipPagesIn); }

    /**
     * Inodes of unix sockets whose peer is outside the dump that CRIU may dump anyway ({@code --ext-unix-sk=INO}):
     * a service's stdout/stderr connected to journald. The restore must hand each one in ({@code --inherit-fd}).
     */
    public List<Long> externalUnixSockets() { return externalUnixSockets; }

    /** Where CRIU writes its log: the work dir if set, else the images dir. */
    public Path effectiveWorkDir() { return workDir != null ? workDir : imagesDir; }

    @Override
    public String toString() {
        return "DumpOptions[pid=" + pid + ", imagesDir=" + imagesDir + ", parent=" + parentImagesDir
                + ", leaveRunning=" + leaveRunning + ", tcp=" + tcpMode + ", ghostLimit=" + ghostLimit
                + ", log=" + logFile + "@" + logLevel + ", freezeCgroup=" + freezeCgroup + ", fileLocks=" + fileLocks
                + ", shellJob=" + shellJob + ", trackMem=" + trackMem + ", workDir=" + workDir + "]";
    }

    /** Builder for {@link DumpOptions}. Not thread-safe. */
    public static final class Builder {
        private final int pid;
        private final Path imagesDir;
        private Path parentImagesDir;
        private boolean leaveRunning;
        private TcpMode tcpMode = TcpMode.DEFAULT;
        private long ghostLimit = DEFAULT_GHOST_LIMIT;
        private String logFile = "dump.log";
        private int logLevel = 2;
        private String freezeCgroup;
        private boolean fileLocks = true;
        private boolean skipInFlight;
        private boolean networkLock = true;
        private CgroupMode cgroupMode = CgroupMode.IGNORE;
        private boolean shellJob;
        private boolean trackMem;
        private Path workDir;
        private Path skipPagesIn;
        private final List<Long> externalUnixSockets = new java.util.ArrayList<>();

        private Builder(int pid, Path imagesDir) {
            if (pid <= 0) throw new IllegalArgumentException("pid must be positive: " + pid);
            this.pid = pid;
            this.imagesDir = Objects.requireNonNull(imagesDir, "imagesDir");
        }

        public Builder parentImagesDir(Path dir) { this.parentImagesDir = dir; return this; }

        public Builder leaveRunning(boolean v) { this.leaveRunning = v; return this; }

        public Builder tcpMode(TcpMode v) { this.tcpMode = Objects.requireNonNull(v, "tcpMode"); return this; }

        /** @param bytes 0 .. 4 GiB - 1 (libcriu takes an unsigned int) */
        public Builder ghostLimit(long bytes) {
            if (bytes < 0 || bytes > 0xFFFF_FFFFL) throw new IllegalArgumentException("ghost limit out of range: " + bytes);
            this.ghostLimit = bytes;
            return this;
        }

        /** @param name a plain file name (CRIU creates it inside the work dir) */
        public Builder logFile(String name) { this.logFile = checkLogName(name); return this; }

        /** @param level 0 (messages) .. 4 (debug) */
        public Builder logLevel(int level) { this.logLevel = checkLevel(level); return this; }

        public Builder freezeCgroup(String cgroupPath) { this.freezeCgroup = cgroupPath; return this; }

        public Builder fileLocks(boolean v) { this.fileLocks = v; return this; }

        public Builder skipInFlight(boolean v) { this.skipInFlight = v; return this; }

        public Builder networkLock(boolean v) { this.networkLock = v; return this; }

        public Builder cgroupMode(CgroupMode m) { this.cgroupMode = Objects.requireNonNull(m, "cgroupMode"); return this; }

        public Builder shellJob(boolean v) { this.shellJob = v; return this; }

        public Builder trackMem(boolean v) { this.trackMem = v; return this; }

        public Builder workDir(Path dir) { this.workDir = dir; return this; }

        /** See {@link DumpOptions#skipPagesIn()}. */
        public Builder skipPagesIn(Path rangesFile) { this.skipPagesIn = rangesFile; return this; }

        /** See {@link DumpOptions#externalUnixSockets()}. */
        public Builder externalUnixSocket(long inode) {
            if (inode <= 0 || inode > 0xffffffffL) throw new IllegalArgumentException("unix socket inode out of range: " + inode);
            externalUnixSockets.add(inode);
            return this;
        }

        public DumpOptions build() { return new DumpOptions(this); }
    }

    static String checkLogName(String name) {
        Objects.requireNonNull(name, "logFile");
        if (name.isEmpty() || name.contains("/")) throw new IllegalArgumentException("log file must be a plain name: " + name);
        return name;
    }

    static int checkLevel(int level) {
        if (level < 0 || level > 4) throw new IllegalArgumentException("log level must be 0..4: " + level);
        return level;
    }
}
