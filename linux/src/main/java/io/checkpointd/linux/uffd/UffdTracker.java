package io.checkpointd.linux.uffd;

import io.checkpointd.linux.Errno;
import io.checkpointd.linux.FileDescriptor;
import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.Syscalls;
import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.proc.Vma;
import io.checkpointd.linux.ptrace.Injector;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Write tracking of an unmodified target process:
 * <ol>
 *   <li>inject {@code userfaultfd(O_CLOEXEC|O_NONBLOCK)} into the target's main thread (ptrace {@link Injector});</li>
 *   <li>{@code pidfd_getfd} it into this process, then inject {@code close} so the target keeps no trace of it;</li>
 *   <li>{@code UFFDIO_API} with {@code WP_ASYNC|WP_UNPOPULATED}; {@link #track} registers and write-protects ranges;</li>
 *   <li>each epoch, with the target stopped, {@link #collectWritten()} returns the written ranges and re-protects them.</li>
 * </ol>
 * Tracking stops when this object is closed (the last holder of the userfaultfd goes away).
 *
 * <p>Left to the caller: VMAs created, grown or split after {@link #track} (re-read the maps each epoch),
 * {@code MADV_DONTNEED} (page zeroed without a write), THP.
 */
public final class UffdTracker implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(UffdTracker.class);

    private final int pid;
    private final Userfaultfd uffd;
    private final PagemapScan pagemap;
    private final TreeMap<Long, Long> tracked = new TreeMap<>(); // start -> end
    /** Null unless attached with {@code followRemovals}. */
    private final RemovalEvents removals;

    private UffdTracker(int pid, Userfaultfd uffd, PagemapScan pagemap, boolean followRemovals) {
        this.pid = pid;
        this.uffd = uffd;
        this.pagemap = pagemap;
        this.removals = followRemovals ? new RemovalEvents(pid, uffd) : null;
    }

    /**
     * Gives process {@code pid} a userfaultfd (steps 1-3 above). Briefly stops its main thread; must be
     * called on a thread that does no other ptrace of the target.
     */
    public static UffdTracker attach(int pid) throws IOException {
        return attach(pid, false);
    }

    /**
     * Same, and with {@code followRemovals} also {@code UFFD_FEATURE_EVENT_REMOVE}: the ranges the target drops
     * from its tracked memory with {@code madvise} come from {@link #takeRemoved()} (a reader thread answers the
     * events at once: the target's {@code madvise} of tracked memory waits until its event is read).
     */
    public static UffdTracker attach(int pid, boolean followRemovals) throws IOException {
        FileDescriptor taken;
        try (FileDescriptor pidfd = Syscalls.pidfdOpen(pid); Injector inj = Injector.attach(pid)) {
            long flags = Syscalls.O_CLOEXEC | Syscalls.O_NONBLOCK;
            long r = inj.syscall(Syscalls.SYS_userfaultfd, flags);
            if (r == -Errno.EPERM) {
                // a service running as its own user may not trap kernel-mode faults (vm.unprivileged_userfaultfd=0);
                // async write-protect never traps: the kernel resolves every fault itself, so user mode only is enough
                r = inj.syscall(Syscalls.SYS_userfaultfd, flags | Userfaultfd.UFFD_USER_MODE_ONLY);
            }
            if (r < 0 && r >= -Syscalls.MAX_ERRNO) throw new SyscallException("userfaultfd", (int) -r, "injected into pid " + pid);
            int remote = (int) r;
            try {
                taken = Syscalls.pidfdGetfd(pidfd, remote);
            } finally {
                // Always close it in the target, also when getfd failed: the target must not keep a uffd.
                inj.checkedSyscall("close", Syscalls.SYS_close, remote);
            }
        }
        Userfaultfd uffd = Userfaultfd.adopt(taken);
        try {
            PagemapScan scan = PagemapScan.open(pid);
            try {
                long want = Userfaultfd.TRACKING_FEATURES
                        | (followRemovals ? Userfaultfd.UFFD_FEATURE_EVENT_REMOVE : 0);
                long have = uffd.api(want);
                if ((have & want) != want) {
                    throw new IOException(String.format("userfaultfd features 0x%x lack 0x%x", have, want & ~have));
                }
                // the reader starts at once: from now on the target's madvise of tracked memory waits for it
                return new UffdTracker(pid, uffd, scan, followRemovals);
            } catch (IOException | RuntimeException e) {
                scan.close();
                throw e;
            }
        } catch (IOException | RuntimeException e) {
            uffd.close();
            throw e;
        }
    }

    public int pid() {
        return pid;
    }

    /** Registers {@code [start, end)} for async write-protect and protects it: writes from now on are recorded. */
    public void track(long start, long end) throws SyscallException {
        uffd.register(start, end - start, Userfaultfd.UFFDIO_REGISTER_MODE_WP);
        try {
            uffd.writeProtect(start, end - start, true);
        } catch (SyscallException e) {
            uffd.unregister(start, end - start);
            throw e;
        }
        tracked.put(start, end);
    }

    /**
     * Tracks every private writable VMA of the target except the kernel's special mappings.
     *
     * @return the failures by VMA (empty if all were registered); a failed VMA is simply not tracked
     */
    public Map<Vma, SyscallException> trackWritablePrivate() throws IOException {
        Map<Vma, SyscallException> failed = new TreeMap<>((a, b) -> Long.compareUnsigned(a.start(), b.start()));
        for (Vma v : ProcFs.maps(pid)) {
            if (!v.isWritable() || !v.isPrivate() || v.isSpecial() || tracked.containsKey(v.start())) continue;
            try {
                track(v.start(), v.end());
            } catch (SyscallException e) {
                failed.put(v, e);
            }
        }
        if (!failed.isEmpty()) LOG.warn("pid {}: {} VMAs could not be tracked, first: {}", pid, failed.size(), failed.values().iterator().next().getMessage());
        return failed;
    }

    /**
     * Write-protects {@code [start, end)} again, a range whose VMAs are all registered ({@code ENOENT} otherwise):
     * one TLB flush per VMA that had written pages. Only with the target stopped: a write between the caller's
     * report and this call would be lost.
     */
    public void protect(long start, long end) throws SyscallException {
        uffd.writeProtect(start, end - start, true);
    }

    /** Stops tracking {@code [start, end)} (a range previously given to {@link #track}). */
    public void untrack(long start, long end) throws SyscallException {
        uffd.unregister(start, end - start);
        tracked.remove(start);
    }

    /** The tracked ranges as {@code start -> end}. */
    public Map<Long, Long> tracked() {
        return new TreeMap<>(tracked);
    }

    /**
     * One epoch's scan result.
     *
     * @param written    pages written since the previous scan (now write-protected again)
     * @param notTracked tracked ranges that now contain memory not registered for async WP (the mapping was
     *                   replaced, e.g. munmap + mmap, or grown): writes there are invisible, so the caller must
     *                   copy these ranges whole and re-track them. Their registered parts are in {@code written}.
     */
    public record Epoch(List<PagemapScan.PageRegion> written, List<PagemapScan.PageRegion> notTracked) {
    }

    /**
     * The pages written since the last call (or since {@link #track}), re-protecting them. The target should be
     * stopped (freezer or SIGSTOP) so the result is one consistent epoch. A range that fails the
     * {@code PM_SCAN_CHECK_WPASYNC} check does not abort the scan (pages of other ranges would already be
     * re-protected and so lost): it is scanned again without the check and reported in {@link Epoch#notTracked}.
     */
    public Epoch collectWritten() throws SyscallException {
        List<PagemapScan.PageRegion> written = new ArrayList<>();
        List<PagemapScan.PageRegion> notTracked = new ArrayList<>();
        for (Map.Entry<Long, Long> r : tracked.entrySet()) {
            long start = r.getKey(), end = r.getValue();
            try {
                pagemap.written(start, end, true, written); // keeps what the failed call reported
            } catch (SyscallException e) {
                if (e.errno() != Errno.EPERM) throw e;
                // Without the check the kernel skips unregistered VMAs and reports/re-protects the rest; pages
                // the failed call already re-protected were salvaged into `written` and are not reported twice.
                pagemap.scan(start, end, PagemapScan.PM_SCAN_WP_MATCHING, PagemapScan.PAGE_IS_WRITTEN, 0, 0,
                        PagemapScan.PAGE_IS_WRITTEN, written);
                notTracked.add(new PagemapScan.PageRegion(start, end, 0));
            }
        }
        return new Epoch(written, notTracked);
    }

    /**
     * The ranges dropped from tracked memory by {@code madvise} ({@code MADV_DONTNEED}, {@code MADV_FREE}) since
     * the previous call, unsorted; with the target stopped, complete. Null if not attached to follow removals.
     */
    public List<io.checkpointd.linux.ProcessMemory.RemoteRange> takeRemoved() throws SyscallException {
        return removals == null ? null : removals.take();
    }

    /** Removal events read so far (remove, other), or null. */
    public long[] removalCounts() {
        return removals == null ? null : removals.counts();
    }

    /** Written pages of one range, re-protecting them. */
    public List<PagemapScan.PageRegion> collectWritten(long start, long end) throws SyscallException {
        return pagemap.written(start, end, true);
    }

    /** Closes the pagemap fd and the userfaultfd: the kernel then drops the registrations. */
    @Override
    public void close() {
        if (removals != null) removals.close();
        pagemap.close();
        uffd.close();
    }
}
