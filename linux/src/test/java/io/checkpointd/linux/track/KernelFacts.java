package io.checkpointd.linux.track;

import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What the kernel offers a dirty tracker, found out by the test itself: raw system calls through a libc binding of
 * its own, with the constants spelled out from the kernel's uapi headers, and none of the implementation's probes,
 * wrappers or constants. The truth {@link Trackers} is checked against.
 */
final class KernelFacts {
    private static final int PAGE = 4096;
    private static final int PROT_RW = 0x1 | 0x2, MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20;
    private static final long SYS_USERFAULTFD = 323; // x86_64
    private static final int O_CLOEXEC = 0x80000, O_NONBLOCK = 0x800, O_RDONLY = 0;
    // _IOWR(type, nr, size) = 3 << 30 | size << 16 | type << 8 | nr
    private static final long UFFDIO_API = 0xC018AA3FL;          // struct uffdio_api: api, features, ioctls
    private static final long UFFDIO_REGISTER = 0xC020AA00L;     // struct uffdio_register: start, len, mode, ioctls
    private static final long UFFDIO_WRITEPROTECT = 0xC018AA06L; // struct uffdio_writeprotect: start, len, mode
    private static final long PAGEMAP_SCAN = 0xC0606610L;        // _IOWR('f', 16, struct pm_scan_arg): 12 x u64
    private static final long FEATURE_WP_UNPOPULATED = 1L << 13, FEATURE_WP_ASYNC = 1L << 15;
    private static final long PAGE_IS_WRITTEN = 1L << 1, PM_SCAN_WP_MATCHING = 1L << 0;
    private static final long PM_SOFT_DIRTY = 1L << 55;
    private static final int CAP_SYS_PTRACE = 19;

    /** A binding of its own, so that nothing of the implementation's JNA layer is trusted. */
    interface C extends Library {
        C I = Native.load("c", C.class);

        long syscall(long number, long a1);

        Pointer mmap(Pointer addr, long length, int prot, int flags, int fd, long offset);

        int munmap(Pointer addr, long length);

        int ioctl(int fd, long request, Pointer arg);

        int open(String path, int flags);

        int close(int fd);
    }

    private KernelFacts() {
    }

    /** A page written after {@code clear_refs} 4 shows bit 55 (soft-dirty) in {@code /proc/self/pagemap}. */
    static boolean softDirtyWorks() throws IOException {
        Pointer page = mapPage();
        try {
            long a = Pointer.nativeValue(page);
            page.setByte(0, (byte) 1);
            Files.writeString(Path.of("/proc/self/clear_refs"), "4");
            page.setByte(0, (byte) 2);
            // pagemap takes whole 8-byte entries per read
            ByteBuffer entry = ByteBuffer.allocate(8).order(ByteOrder.nativeOrder());
            try (FileChannel pm = FileChannel.open(Path.of("/proc/self/pagemap"))) {
                if (pm.read(entry, a / PAGE * 8) != 8) throw new IOException("short read of /proc/self/pagemap");
            }
            return (entry.getLong(0) & PM_SOFT_DIRTY) != 0;
        } finally {
            C.I.munmap(page, PAGE);
        }
    }

    /**
     * A userfaultfd accepts {@code WP_ASYNC|WP_UNPOPULATED}, write-protects a page, and {@code PAGEMAP_SCAN} with
     * {@code PM_SCAN_WP_MATCHING} then reports that page as written after a write to it (and not again after that).
     */
    static boolean uffdWpAsyncWorks() {
        int uffd = (int) C.I.syscall(SYS_USERFAULTFD, O_CLOEXEC | O_NONBLOCK);
        if (uffd < 0) return false;
        Pointer page = mapPage();
        int pagemap = -1;
        try {
            long want = FEATURE_WP_ASYNC | FEATURE_WP_UNPOPULATED;
            if (C.I.ioctl(uffd, UFFDIO_API, u64s(0xAA, want, 0)) != 0) return false;
            long a = Pointer.nativeValue(page);
            page.setByte(0, (byte) 1);
            if (C.I.ioctl(uffd, UFFDIO_REGISTER, u64s(a, PAGE, 2 /* MODE_WP */, 0)) != 0) return false;
            if (C.I.ioctl(uffd, UFFDIO_WRITEPROTECT, u64s(a, PAGE, 1 /* MODE_WP */)) != 0) return false;
            page.setByte(0, (byte) 2);
            pagemap = C.I.open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
            if (pagemap < 0) return false;
            Memory vec = new Memory(24 * 4);
            int first = scanWritten(pagemap, a, vec);
            boolean reported = first == 1 && vec.getLong(0) == a && vec.getLong(8) == a + PAGE;
            return reported && scanWritten(pagemap, a, vec) == 0;
        } finally {
            if (pagemap >= 0) C.I.close(pagemap);
            C.I.munmap(page, PAGE);
            C.I.close(uffd);
        }
    }

    /** Root, or {@code CAP_SYS_PTRACE} in the effective set, and Yama allowing it: a tracer may attach. */
    static boolean ptraceAllowed() throws IOException {
        Path yama = Path.of("/proc/sys/kernel/yama/ptrace_scope");
        int scope = Files.exists(yama) ? Integer.parseInt(Files.readString(yama).trim()) : 0;
        long capEff = 0;
        boolean root = false;
        for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (l.startsWith("CapEff:")) capEff = Long.parseUnsignedLong(l.substring(7).trim(), 16);
            if (l.startsWith("Uid:")) root = l.split("\\s+")[2].equals("0");
        }
        boolean cap = (capEff & (1L << CAP_SYS_PTRACE)) != 0;
        return scope < 3 && (cap || (root && scope == 0));
    }

    /** {@code PAGEMAP_SCAN} of one page for written pages, re-protecting them; the number of regions or -1. */
    private static int scanWritten(int pagemap, long a, Memory vec) {
        Memory arg = u64s(96, PM_SCAN_WP_MATCHING, a, a + PAGE, 0, Pointer.nativeValue(vec), 4, 0, 0,
                PAGE_IS_WRITTEN, 0, PAGE_IS_WRITTEN);
        return C.I.ioctl(pagemap, PAGEMAP_SCAN, arg);
    }

    private static Memory u64s(long... v) {
        Memory m = new Memory(8L * v.length);
        for (int i = 0; i < v.length; i++) m.setLong(8L * i, v[i]);
        return m;
    }

    private static Pointer mapPage() {
        Pointer p = C.I.mmap(null, PAGE, PROT_RW, MAP_PRIVATE_ANONYMOUS, -1, 0);
        if (Pointer.nativeValue(p) == -1) throw new IllegalStateException("mmap failed");
        return p;
    }
}
