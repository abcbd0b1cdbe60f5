package io.checkpointd.linux.proc;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import io.checkpointd.linux.Errno;
import io.checkpointd.linux.SyscallException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Reads small {@code /proc} files, links and directories with plain system calls into a per-thread native buffer
 * ({@link ProcDirect}), for what the incremental engine reads in every pause. A file that is gone, or whose process
 * is ({@code ENOENT}, {@code ESRCH}), is a {@link NoSuchFileException} as with {@code java.nio.file}; any other
 * failure a {@link SyscallException}.
 */
public final class ProcFiles {
    private static final int O_RDONLY = 0, O_DIRECTORY = 0x10000, O_CLOEXEC = 0x80000;
    private static final long SYS_GETDENTS64 = 217, SYS_NEWFSTATAT = 262;
    private static final int AT_FDCWD = -100;
    private static final int S_IFMT = 0170000, S_IFREG = 0100000;

    /** Grows to the largest file read on the thread (a JVM's maps: tens of kB). */
    private static final ThreadLocal<Memory[]> SCRATCH = ThreadLocal.withInitial(() -> new Memory[] {new Memory(64 << 10)});

    private ProcFiles() {
    }

    /** The whole content of {@code path}. */
    public static byte[] read(String path) throws IOException {
        return read(path, false);
    }

    /**
     * The whole content of a one-record {@code /proc} file ({@code single_open}: {@code fdinfo/N}, {@code status},
     * {@code comm}): the kernel renders it whole at the first read, so a read shorter than the buffer is the end
     * and needs no second read to see 0. Multi-record files ({@code maps}) return short reads before their end.
     */
    public static byte[] readSingle(String path) throws IOException {
        return read(path, true);
    }

    private static byte[] read(String path, boolean single) throws IOException {
        Memory[] m = SCRATCH.get();
        int fd = ProcDirect.open(cString(path), O_RDONLY | O_CLOEXEC);
        if (fd < 0) throw failure("open", Native.getLastError(), path);
        try {
            long n = 0;
            while (true) {
                if (n == m[0].size()) {
                    Memory bigger = new Memory(m[0].size() * 2);
                    bigger.write(0, m[0].getByteArray(0, (int) n), 0, (int) n);
                    m[0] = bigger;
                }
                long k = ProcDirect.read(fd, m[0].share(n), m[0].size() - n);
                if (k < 0) {
                    int e = Native.getLastError();
                    if (e == Errno.EINTR) continue;
                    throw failure("read", e, path);
                }
                if (k == 0) break;
                boolean shortRead = k < m[0].size() - n;
                n += k;
                if (single && shortRead) break;
            }
            return m[0].getByteArray(0, (int) n);
        } finally {
            ProcDirect.close(fd);
        }
    }

    /** Opens {@code path} for reading: the descriptor for {@link #preadSingle}, closed with {@link #close(int)}. */
    static int open(String path) throws IOException {
        int fd = ProcDirect.open(cString(path), O_RDONLY | O_CLOEXEC);
        if (fd < 0) throw failure("open", Native.getLastError(), path);
        return fd;
    }

    /**
     * The whole content of the one-record {@code /proc} file open at {@code fd} ({@link #readSingle}), rendered
     * afresh: a read at offset 0 of a seq file starts over. {@code path} names it in errors.
     */
    static byte[] preadSingle(int fd, String path) throws IOException {
        Memory[] m = SCRATCH.get();
        while (true) {
            long k = ProcDirect.pread(fd, m[0], m[0].size(), 0);
            if (k < 0) {
                int e = Native.getLastError();
                if (e == Errno.EINTR) continue;
                throw failure("read", e, path);
            }
            if (k < m[0].size()) return m[0].getByteArray(0, (int) k);
            m[0] = new Memory(m[0].size() * 2); // filled: larger than the buffer, read it again whole
        }
    }

    static void close(int fd) {
        ProcDirect.close(fd);
    }

    /** The target of the symbolic link {@code path} (e.g. {@code /proc/PID/cwd}). */
    public static String readlink(String path) throws IOException {
        Memory m = SCRATCH.get()[0];
        long n = ProcDirect.readlink(cString(path), m, m.size());
        if (n < 0) throw failure("readlink", Native.getLastError(), path);
        return new String(m.getByteArray(0, (int) n), StandardCharsets.UTF_8);
    }

    /**
     * fd number → link target of every entry of {@code /proc/PID/fd}, in fd order. An fd closed between listing and
     * reading its link is left out.
     */
    public static Map<Integer, String> fds(int pid) throws IOException {
        String dir = "/proc/" + pid + "/fd";
        int dfd = openDirectory(dir);
        try {
            Memory m = SCRATCH.get()[0];
            Map<Integer, String> out = new TreeMap<>();
            for (int fd : entries(dfd, dir)) {
                long k = ProcDirect.readlinkat(dfd, cString(Integer.toString(fd)), m, m.size());
                if (k < 0) {
                    int e = Native.getLastError();
                    if (e == Errno.ENOENT) continue; // closed meanwhile
                    throw failure("readlinkat", e, dir + "/" + fd);
                }
                out.put(fd, new String(m.getByteArray(0, (int) k), StandardCharsets.UTF_8));
            }
            return out;
        } finally {
            ProcDirect.close(dfd);
        }
    }

    /** The numeric entries of directory {@code dir} ({@code /proc/PID/task}, {@code /proc/PID/fd}), in directory order. */
    public static List<Integer> entries(String dir) throws IOException {
        int dfd = openDirectory(dir);
        try {
            return entries(dfd, dir);
        } finally {
            ProcDirect.close(dfd);
        }
    }

    private static int openDirectory(String dir) throws IOException {
        int dfd = ProcDirect.open(cString(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) throw failure("open", Native.getLastError(), dir);
        return dfd;
    }

    private static List<Integer> entries(int dfd, String dir) throws IOException {
        Memory m = SCRATCH.get()[0];
        List<Integer> out = new ArrayList<>();
        while (true) {
            long n = ProcDirect.syscall(SYS_GETDENTS64, dfd, Pointer.nativeValue(m), m.size(), 0);
            if (n < 0) throw failure("getdents64", Native.getLastError(), dir);
            if (n == 0) return out;
            for (int off = 0; off < n; ) {
                // struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
                int reclen = m.getShort(off + 16) & 0xffff;
                int v = 0, i = off + 19;
                boolean numeric = true;
                for (byte c; (c = m.getByte(i)) != 0; i++) {
                    if (c < '0' || c > '9') {
                        numeric = false;
                        break;
                    }
                    v = v * 10 + (c - '0');
                }
                if (numeric && i > off + 19) out.add(v);
                off += reclen;
            }
        }
    }

    /** What {@code stat(2)} says of the file {@code path} names (links followed). */
    public record Stat(int mode, long size) {
        public boolean isRegularFile() {
            return (mode & S_IFMT) == S_IFREG;
        }
    }

    /** {@code stat(2)} of {@code path}, following links ({@code /proc/PID/fd/N}: the open file). */
    public static Stat stat(String path) throws IOException {
        Memory m = SCRATCH.get()[0];
        long r = ProcDirect.syscall(SYS_NEWFSTATAT, AT_FDCWD, Pointer.nativeValue(cStringIn(m, path)), Pointer.nativeValue(m) + 4096, 0);
        if (r < 0) throw failure("stat", Native.getLastError(), path);
        // x86_64 struct stat: st_mode at 24, st_size at 48
        return new Stat(m.getInt(4096 + 24), m.getLong(4096 + 48));
    }

    /** The value of the first line of {@code text} that starts with {@code key} (e.g. {@code "pos:"}), trimmed, or null. */
    public static String field(byte[] text, String key) {
        int k = key.length();
        for (int i = 0; i < text.length; ) {
            int eol = i;
            while (eol < text.length && text[eol] != '\n') eol++;
            if (eol - i >= k && startsWith(text, i, key)) {
                return new String(text, i + k, eol - i - k, StandardCharsets.US_ASCII).trim();
            }
            i = eol + 1;
        }
        return null;
    }

    private static boolean startsWith(byte[] text, int at, String key) {
        for (int j = 0; j < key.length(); j++) if (text[at + j] != key.charAt(j)) return false;
        return true;
    }

    private static Pointer cStringIn(Memory m, String s) {
        byte[] b = cString(s);
        if (b.length > 4096) throw new IllegalArgumentException("path too long: " + s);
        m.write(0, b, 0, b.length);
        return m;
    }

    private static byte[] cString(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        byte[] z = new byte[b.length + 1];
        System.arraycopy(b, 0, z, 0, b.length);
        return z;
    }

    private static IOException failure(String call, int errno, String path) {
        if (errno == Errno.ENOENT || errno == Errno.ESRCH) return new NoSuchFileException(path);
        return new SyscallException(call, errno, path);
    }
}
