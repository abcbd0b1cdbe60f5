package io.checkpointd.linux;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * Reads another process's memory with {@code process_vm_readv(2)}: many remote ranges into one contiguous
 * local buffer per call, which is how dirty pages are copied at memory bandwidth (no /proc/PID/mem seek+read
 * per page).
 */
public final class ProcessMemory {
    /** {@code IOV_MAX}: the kernel rejects more iovecs than this per call. */
    public static final int IOV_MAX = 1024;
    private static final int IOVEC_SIZE = 16; // struct iovec { void *iov_base; size_t iov_len; }

    /** One remote range: {@code length} bytes at {@code address} in the target. */
    public record RemoteRange(long address, long length) {
        public RemoteRange {
            if (length < 0) throw new IllegalArgumentException("negative length " + length);
        }
    }

    private ProcessMemory() {
    }

    /** Total length of the ranges. */
    public static long totalLength(List<RemoteRange> ranges) {
        long n = 0;
        for (RemoteRange r : ranges) n += r.length();
        return n;
    }

    /**
     * Reads every range, in order and back to back, into {@code dst} from its position; advances the
     * position by the bytes read. Either everything is read or a {@link SyscallException} is thrown.
     *
     * <p>The kernel stops a call at the first remote page it cannot read and reports a short count; the rest is
     * retried from exactly there, so only a range that is really unreadable (unmapped, {@code PROT_NONE})
     * fails, with its address in the message.
     *
     * @param dst a direct buffer with at least {@link #totalLength} bytes remaining
     */
    public static long read(int pid, List<RemoteRange> ranges, ByteBuffer dst) throws SyscallException {
        if (!dst.isDirect()) throw new IllegalArgumentException("destination must be a direct buffer");
        long total = totalLength(ranges);
        if (total > dst.remaining()) throw new IllegalArgumentException("need " + total + " bytes, buffer has " + dst.remaining());
        long base = Pointer.nativeValue(Native.getDirectBufferPointer(dst)) + dst.position();
        long n = read(pid, ranges, base);
        dst.position(dst.position() + (int) n);
        return n;
    }

    /** Reads {@code dst.remaining()} bytes at {@code address} of {@code pid} into {@code dst}. */
    public static long read(int pid, long address, ByteBuffer dst) throws SyscallException {
        return read(pid, List.of(new RemoteRange(address, dst.remaining())), dst);
    }

    private static long read(int pid, List<RemoteRange> ranges, long localBase) throws SyscallException {
        int maxIov = Math.min(IOV_MAX, Math.max(1, ranges.size()));
        try (Memory remote = new Memory((long) maxIov * IOVEC_SIZE); Memory local = new Memory(IOVEC_SIZE)) {
            long done = 0;
            int idx = 0; // next range
            long off = 0; // bytes of ranges[idx] already read
            while (idx < ranges.size()) {
                // One call covers up to IOV_MAX remote iovecs and one local iovec spanning their total.
                int cnt = 0;
                long batch = 0;
                int i = idx;
                long o = off;
                while (i < ranges.size() && cnt < maxIov) {
                    RemoteRange r = ranges.get(i);
                    long len = r.length() - o;
                    if (len > 0) {
                        remote.setLong((long) cnt * IOVEC_SIZE, r.address() + o);
                        remote.setLong((long) cnt * IOVEC_SIZE + 8, len);
                        cnt++;
                        batch += len;
                    }
                    i++;
                    o = 0;
                }
                if (cnt == 0) break;
                local.setLong(0, localBase + done);
                local.setLong(8, batch);
                long got = LibC.INSTANCE.process_vm_readv(pid, local, 1, remote, cnt, 0);
                if (got < 0) {
                    int e = Native.getLastError();
                    if (e == Errno.EINTR) continue;
                    throw new SyscallException("process_vm_readv", e, String.format("pid %d at 0x%x", pid, ranges.get(idx).address() + off));
                }
                if (got == 0) {
                    throw new SyscallException("process_vm_readv", Errno.EFAULT, String.format("pid %d: no progress at 0x%x", pid, ranges.get(idx).address() + off));
                }
                done += got;
                // Advance (idx, off) by got bytes: a short count resumes exactly where the kernel stopped.
                long left = got;
                while (left > 0) {
                    long rem = ranges.get(idx).length() - off;
                    if (left >= rem) {
                        left -= rem;
                        idx++;
                        off = 0;
                    } else {
                        off += left;
                        left = 0;
                    }
                }
                while (idx < ranges.size() && ranges.get(idx).length() == off) {
                    idx++;
                    off = 0;
                }
            }
            return done;
        }
    }
}
