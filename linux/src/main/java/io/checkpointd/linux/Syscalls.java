package io.checkpointd.linux;

import com.sun.jna.Native;

/**
 * Process-level system calls: signals, {@code waitpid}, pidfds, and checked raw {@code syscall(2)} for calls
 * glibc has no wrapper for. Every method checks its result and throws {@link SyscallException} naming the call.
 *
 * <p>Syscall numbers are x86_64's; the project targets x86_64 Linux only (see {@link Features}).
 */
public final class Syscalls {
    // <signal.h> (x86_64 numbering)
    public static final int SIGTRAP = 5, SIGKILL = 9, SIGTERM = 15, SIGCONT = 18, SIGSTOP = 19;

    // <sys/wait.h>
    public static final int WNOHANG = 1;
    public static final int WUNTRACED = 2;
    /** Wait for all children, clone or not: needed to wait for a traced thread that is not our child. */
    public static final int __WALL = 0x40000000;
    /** Wait only for the calling thread's own children and tracees, not those of other threads of this JVM. */
    public static final int __WNOTHREAD = 0x20000000;

    // <asm/unistd_64.h>
    public static final long SYS_close = 3, SYS_getpid = 39, SYS_gettid = 186, SYS_userfaultfd = 323,
            SYS_pidfd_send_signal = 424, SYS_pidfd_open = 434, SYS_pidfd_getfd = 438;

    /** Largest errno a raw syscall returns as {@code -errno} (the kernel's {@code MAX_ERRNO}). */
    public static final int MAX_ERRNO = 4095;

    private Syscalls() {
    }

    /** {@code kill(2)}. */
    public static void kill(int pid, int sig) throws SyscallException {
        if (LibC.INSTANCE.kill(pid, sig) != 0) throw new SyscallException("kill", Native.getLastError(), "pid " + pid + " sig " + sig);
    }

    /**
     * {@code waitpid(2)}, retried on {@code EINTR}.
     *
     * @param options e.g. {@link #__WALL} for a ptraced thread, {@link #WNOHANG}
     */
    public static WaitStatus waitpid(int pid, int options) throws SyscallException {
        int[] st = new int[1];
        while (true) {
            int r = LibC.INSTANCE.waitpid(pid, st, options);
            if (r >= 0) return new WaitStatus(r, st[0]);
            int e = Native.getLastError();
            if (e != Errno.EINTR) throw new SyscallException("waitpid", e, "pid " + pid);
        }
    }

    /**
     * {@code pidfd_open(2)}: an fd that refers to this process for as long as it is held, so a recycled pid
     * can never be confused with it.
     */
    public static FileDescriptor pidfdOpen(int pid) throws SyscallException {
        int fd = (int) syscall("pidfd_open", SYS_pidfd_open, pid, 0, 0);
        return new FileDescriptor(fd, "pidfd(" + pid + ")");
    }

    /** {@code pidfd_getfd(2)}: duplicates fd {@code targetFd} of the process behind {@code pidfd} into this one. */
    public static FileDescriptor pidfdGetfd(FileDescriptor pidfd, int targetFd) throws SyscallException {
        int fd = (int) syscall("pidfd_getfd", SYS_pidfd_getfd, pidfd.fd(), targetFd, 0);
        return new FileDescriptor(fd, "pidfd_getfd(" + targetFd + ")");
    }

    /** {@code pidfd_send_signal(2)} with no siginfo and no flags. */
    public static void pidfdSendSignal(FileDescriptor pidfd, int sig) throws SyscallException {
        syscall("pidfd_send_signal", SYS_pidfd_send_signal, pidfd.fd(), sig, 0, 0);
    }

    /**
     * Checked raw {@code syscall(2)} with up to three arguments (the others are passed as 0).
     *
     * @param name the call's name for the exception, e.g. {@code "userfaultfd"}
     * @return the non-negative result
     */
    public static long syscall(String name, long nr, long a1, long a2, long a3) throws SyscallException {
        return syscall(name, nr, a1, a2, a3, 0);
    }

    /** Checked raw {@code syscall(2)} with up to four arguments (the fifth is passed as 0). */
    public static long syscall(String name, long nr, long a1, long a2, long a3, long a4) throws SyscallException {
        long r = LibC.INSTANCE.syscall(nr, a1, a2, a3, a4, 0);
        if (r < 0) throw new SyscallException(name, Native.getLastError());
        return r;
    }

    /** {@code <time.h>} clocks. */
    public static final int CLOCK_MONOTONIC = 1, CLOCK_BOOTTIME = 7;
    private static final long SYS_clock_gettime = 228;

    /** {@code clock_gettime(2)} of {@code clock}, in nanoseconds. */
    public static long clockGettimeNanos(int clock) throws SyscallException {
        com.sun.jna.Memory ts = new com.sun.jna.Memory(16);
        syscall("clock_gettime", SYS_clock_gettime, clock, com.sun.jna.Pointer.nativeValue(ts), 0);
        return ts.getLong(0) * 1_000_000_000L + ts.getLong(8);
    }

    // <fcntl.h>
    public static final int O_RDONLY = 0, O_RDWR = 2, O_NONBLOCK = 04000, O_DIRECTORY = 0200000, O_CLOEXEC = 02000000;
    /** prctl options. */
    public static final int PR_SET_CHILD_SUBREAPER = 36, PR_GET_CHILD_SUBREAPER = 37;

    /** {@code prctl(2)} with one argument (a value or an address); returns its non-negative result. */
    public static int prctl(String name, int option, long arg2) throws SyscallException {
        int r = LibC.INSTANCE.prctl(option, arg2, 0, 0, 0);
        if (r < 0) throw new SyscallException("prctl(" + name + ")", Native.getLastError());
        return r;
    }

    /** {@code open(2)} (always adds {@code O_CLOEXEC}): for files that need an fd rather than a Java stream, e.g. for an ioctl. */
    public static FileDescriptor open(String path, int flags) throws SyscallException {
        int fd = LibC.INSTANCE.open(path, flags | O_CLOEXEC);
        if (fd < 0) throw new SyscallException("open", Native.getLastError(), path);
        return new FileDescriptor(fd, path);
    }

    /** {@code lseek} whences that find data and holes in a sparse file (<linux/fs.h>). */
    public static final int SEEK_DATA = 3, SEEK_HOLE = 4;
    private static final int ENXIO = 6;

    /**
     * {@code lseek(2)} with {@link #SEEK_DATA} or {@link #SEEK_HOLE}: the next data (or hole) at or after
     * {@code offset}, or -1 when there is none ({@code ENXIO}: no data past {@code offset}). Lets a reader skip
     * holes, so reading a sparse file costs its data, not its size. A filesystem without extent information
     * reports the whole file as data, which is still correct.
     */
    public static long seek(FileDescriptor fd, long offset, int whence) throws SyscallException {
        long r = LibC.INSTANCE.lseek(fd.fd(), offset, whence);
        if (r >= 0) return r;
        int e = Native.getLastError();
        if (e == ENXIO) return -1;
        throw new SyscallException("lseek", e, fd + " whence " + whence + " offset " + offset);
    }

    private static final int SCHED_OTHER = 0, SCHED_FIFO = 1, SCHED_RESET_ON_FORK = 0x40000000;

    /**
     * Runs the calling thread under {@code SCHED_FIFO} at {@code priority} (1-99), or, with 0, under
     * {@code SCHED_OTHER} again; {@code SCHED_RESET_ON_FORK}, so nothing it starts inherits the policy. Needs
     * {@code CAP_SYS_NICE}. For short, bounded work that must not wait behind other runnable threads (an epoch's
     * pause); the kernel's real-time throttling still leaves others 5% of each CPU.
     */
    public static void setRealtime(int priority) throws SyscallException {
        int policy = (priority > 0 ? SCHED_FIFO : SCHED_OTHER) | SCHED_RESET_ON_FORK;
        if (LibC.INSTANCE.sched_setscheduler(0, policy, new int[] {priority}) < 0) {
            throw new SyscallException("sched_setscheduler", Native.getLastError(), priority > 0 ? "SCHED_FIFO " + priority : "SCHED_OTHER");
        }
    }

    public static final int O_WRONLY = 1, O_CREAT = 0100, O_APPEND = 02000;
    private static final int AF_UNIX = 1, SOCK_STREAM = 1, SUN_PATH_MAX = 108;

    /**
     * Opens {@code path} for appending, created with {@code mode} if absent, WITHOUT close-on-exec: an fd that a child
     * (CRIU's swrk, forked by libcriu) must inherit under the same number, e.g. for CRIU's {@code --inherit-fd}.
     */
    /** {@code open(path, flags)} WITHOUT close-on-exec; see {@link #openInheritableAppend}. */
    public static FileDescriptor openInheritable(String path, int flags) throws SyscallException {
        int fd = LibC.INSTANCE.open(path, flags);
        if (fd < 0) throw new SyscallException("open", Native.getLastError(), path);
        return new FileDescriptor(fd, path);
    }

    public static FileDescriptor openInheritableAppend(String path, int mode) throws SyscallException {
        int fd = LibC.INSTANCE.open(path, O_WRONLY | O_APPEND | O_CREAT, mode);
        if (fd < 0) throw new SyscallException("open", Native.getLastError(), path);
        return new FileDescriptor(fd, path);
    }

    /**
     * A unix stream socket connected to {@code path} (a leading {@code @} names an abstract address), WITHOUT
     * close-on-exec, for the same reason as {@link #openInheritableAppend}.
     */
    public static FileDescriptor connectUnixStream(String path) throws SyscallException {
        byte[] name = path.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        boolean abstractName = name.length > 0 && name[0] == '@';
        if (name.length == 0 || name.length >= SUN_PATH_MAX) throw new SyscallException("connect", Errno.EINVAL, "unix socket path length " + name.length + ": " + path);
        byte[] addr = new byte[2 + name.length + (abstractName ? 0 : 1)];
        addr[0] = (byte) AF_UNIX; // sa_family_t, little-endian
        System.arraycopy(name, 0, addr, 2, name.length);
        if (abstractName) addr[2] = 0;
        int fd = LibC.INSTANCE.socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0) throw new SyscallException("socket(AF_UNIX)", Native.getLastError());
        if (LibC.INSTANCE.connect(fd, addr, addr.length) < 0) {
            int errno = Native.getLastError();
            LibC.INSTANCE.close(fd);
            throw new SyscallException("connect", errno, path);
        }
        return new FileDescriptor(fd, "unix:" + path);
    }

    /** Writes all of {@code bytes} to {@code fd} (retrying short writes and EINTR). */
    public static void writeFully(FileDescriptor fd, byte[] bytes) throws SyscallException {
        int off = 0;
        while (off < bytes.length) {
            byte[] rest = off == 0 ? bytes : java.util.Arrays.copyOfRange(bytes, off, bytes.length);
            long n = LibC.INSTANCE.write(fd.fd(), rest, rest.length);
            if (n < 0) {
                int errno = Native.getLastError();
                if (errno == Errno.EINTR) continue;
                throw new SyscallException("write", errno, fd.toString());
            }
            off += (int) n;
        }
    }

    /** {@code geteuid(2)}. */
    public static int geteuid() {
        return LibC.INSTANCE.geteuid();
    }

    /** {@code madvise} advice: drop the pages; private anonymous memory reads back as zeros. */
    public static final int MADV_DONTNEED = 4;
    private static final int PROT_READ = 1, PROT_WRITE = 2, MAP_PRIVATE = 2, MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20;

    /** {@code mmap} of fresh private anonymous read-write memory, as a direct buffer over it (release with {@link #unmap}). */
    public static java.nio.ByteBuffer mapAnonymous(int length) throws SyscallException {
        com.sun.jna.Pointer p = LibC.INSTANCE.mmap(null, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (com.sun.jna.Pointer.nativeValue(p) == -1L) throw new SyscallException("mmap", Native.getLastError(), length + " bytes");
        return p.getByteBuffer(0, length);
    }

    /**
     * {@code mmap(MAP_FIXED)} of fresh private anonymous read-write memory over a buffer {@link #mapAnonymous} returned:
     * a new mapping at the same address (the old one's pages are gone), which the buffer keeps addressing.
     */
    public static void remapAnonymous(java.nio.ByteBuffer mapped) throws SyscallException {
        com.sun.jna.Pointer at = Native.getDirectBufferPointer(mapped);
        com.sun.jna.Pointer p = LibC.INSTANCE.mmap(at, mapped.capacity(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (com.sun.jna.Pointer.nativeValue(p) == -1L) throw new SyscallException("mmap", Native.getLastError(), mapped.capacity() + " bytes, MAP_FIXED");
    }

    /** {@code munmap} of a buffer {@link #mapAnonymous} returned; the buffer must not be touched afterwards. */
    public static void unmap(java.nio.ByteBuffer mapped) throws SyscallException {
        if (LibC.INSTANCE.munmap(Native.getDirectBufferPointer(mapped), mapped.capacity()) != 0) {
            throw new SyscallException("munmap", Native.getLastError(), mapped.capacity() + " bytes");
        }
    }

    /** {@code madvise} of {@code [offset, offset+length)} of a direct buffer (page-aligned offsets). */
    public static void madvise(java.nio.ByteBuffer direct, long offset, long length, int advice) throws SyscallException {
        com.sun.jna.Pointer p = Native.getDirectBufferPointer(direct).share(offset);
        if (LibC.INSTANCE.madvise(p, length, advice) != 0) throw new SyscallException("madvise", Native.getLastError(), "advice " + advice);
    }

    /** {@code mprotect} of {@code [offset, offset+length)} of a direct buffer (page-aligned): read-only, or read-write again. */
    public static void protect(java.nio.ByteBuffer direct, long offset, long length, boolean writable) throws SyscallException {
        com.sun.jna.Pointer p = Native.getDirectBufferPointer(direct).share(offset);
        if (LibC.INSTANCE.mprotect(p, length, writable ? PROT_READ | PROT_WRITE : PROT_READ) != 0) {
            throw new SyscallException("mprotect", Native.getLastError(), length + " bytes");
        }
    }

    /**
     * Moves the program break up by {@code length} bytes (glibc's {@code sbrk}: the brk heap grows) and returns the
     * new memory as a direct buffer; give it back with {@link #shrinkBreak}.
     */
    public static java.nio.ByteBuffer growBreak(int length) throws SyscallException {
        com.sun.jna.Pointer p = LibC.INSTANCE.sbrk(length);
        if (com.sun.jna.Pointer.nativeValue(p) == -1L) throw new SyscallException("sbrk", Native.getLastError(), length + " bytes");
        return p.getByteBuffer(0, length);
    }

    /**
     * Gives back memory {@link #growBreak} returned if the break is still at its end (nothing, malloc included, moved
     * it since); returns whether it did. Otherwise the memory stays, as malloc would leave it.
     */
    public static boolean shrinkBreak(java.nio.ByteBuffer grown) throws SyscallException {
        long end = com.sun.jna.Pointer.nativeValue(Native.getDirectBufferPointer(grown)) + grown.capacity();
        if (com.sun.jna.Pointer.nativeValue(LibC.INSTANCE.sbrk(0)) != end) return false;
        if (com.sun.jna.Pointer.nativeValue(LibC.INSTANCE.sbrk(-grown.capacity())) == -1L) {
            throw new SyscallException("sbrk", Native.getLastError(), -grown.capacity() + " bytes");
        }
        return true;
    }
}
