package io.checkpointd.protocol.image;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * What a dumped process holds that lives on its host rather than in CRIU's images, written by the primary beside each
 * CRIU dump as {@value #NAME} and used by the backup before it restores:
 * <ul>
 * <li>{@link Stdio}: the process's stdin/stdout/stderr when they are a pipe or a unix socket (a log pipe, journald's
 *     stream socket). Its other end stays on the old host; the restore hands CRIU a local replacement for each key
 *     ({@code --inherit-fd}).</li>
 * <li>{@link SharedFile}: the JVM's perf-data file {@code /tmp/hsperfdata_<user>/<pid>}, which it maps shared and
 *     writes all the time (counters for jstat; nothing the service's state depends on). CRIU reopens the file by path
 *     and refuses it unless size and mode match, so the backup creates it (owner, mode, contents as of the last CRIU
 *     dump) when it is missing. Any other file mapped shared must live in a data dir.</li>
 * </ul>
 * Checkpointd's own format (CRIU ignores files it does not know): magic, then counted entries, every length bounded
 * before it is believed.
 */
public record HostFiles(List<Stdio> stdio, List<SharedFile> sharedFiles) {
    /** The file's name in an image directory. */
    public static final String NAME = "checkpointd-host-files.img";
    /** Largest shared file carried; larger ones are left to the data dirs. */
    public static final int MAX_SHARED_FILE_BYTES = 1 << 20;
    static final int MAGIC = 0x43504846; // "CPHF"
    private static final int MAX_ENTRIES = 64, MAX_PATH_BYTES = 4096, MAX_TOTAL_BYTES = 16 << 20;
    private static final Pattern KEY = Pattern.compile("(pipe|socket):\\[[0-9]{1,10}\\]");

    /** One of fds 0-2 whose file is a pipe or socket: {@code key} as in {@code /proc/PID/fd/N} ({@code pipe:[123]}). */
    public record Stdio(int fd, String key) {
        public Stdio {
            if (fd < 0 || fd > 2) throw new IllegalArgumentException("stdio fd out of range: " + fd);
            if (!KEY.matcher(Objects.requireNonNull(key, "key")).matches()) throw new IllegalArgumentException("not a pipe or socket key: " + key);
        }

        /** Whether the file is a unix socket (else a pipe). */
        public boolean isSocket() {
            return key.startsWith("socket:");
        }

        /** The inode in the key. */
        public long inode() {
            return Long.parseLong(key.substring(key.indexOf('[') + 1, key.length() - 1));
        }
    }

    /** A shared-mapped file: absolute normalized path, permission bits, owner, contents. */
    public record SharedFile(String path, int mode, int uid, int gid, byte[] contents) {
        public SharedFile {
            checkPath(path);
            if ((mode & ~07777) != 0) throw new IllegalArgumentException("mode out of range: " + Integer.toOctalString(mode));
            if (uid < 0 || gid < 0) throw new IllegalArgumentException("negative owner " + uid + ":" + gid);
            if (contents.length > MAX_SHARED_FILE_BYTES) throw new IllegalArgumentException("shared file too large: " + contents.length);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof SharedFile f && f.path.equals(path) && f.mode == mode && f.uid == uid && f.gid == gid
                    && Arrays.equals(f.contents, contents);
        }

        @Override
        public int hashCode() {
            return Objects.hash(path, mode, uid, gid, Arrays.hashCode(contents));
        }

        @Override
        public String toString() {
            return "SharedFile[" + path + ", mode " + Integer.toOctalString(mode) + ", " + uid + ":" + gid + ", " + contents.length + " bytes]";
        }
    }

    private static final Pattern PERF_DATA = Pattern.compile("/tmp/hsperfdata_[^/]+/[0-9]+");

    /** Whether {@code path} names a JVM's perf-data file, the one shared-mapped file carried here. */
    public static boolean isPerfData(String path) {
        return PERF_DATA.matcher(path).matches();
    }

    public HostFiles {
        stdio = List.copyOf(stdio);
        sharedFiles = List.copyOf(sharedFiles);
        if (stdio.size() > 3 || sharedFiles.size() > MAX_ENTRIES) throw new IllegalArgumentException("too many entries");
    }

    /** Nothing host-bound. */
    public static final HostFiles NONE = new HostFiles(List.of(), List.of());

    public byte[] encode() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(MAGIC);
            out.writeByte(stdio.size());
            for (Stdio s : stdio) {
                out.writeByte(s.fd());
                writeString(out, s.key());
            }
            out.writeShort(sharedFiles.size());
            for (SharedFile f : sharedFiles) {
                writeString(out, f.path());
                out.writeInt(f.mode());
                out.writeInt(f.uid());
                out.writeInt(f.gid());
                out.writeInt(f.contents().length);
                out.write(f.contents());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a byte array does not fail
        }
        return bytes.toByteArray();
    }

    /** Decodes {@link #encode()}'s bytes; an {@link IOException} naming the problem for anything else. */
    public static HostFiles decode(byte[] b) throws IOException {
        if (b.length > MAX_TOTAL_BYTES) throw new IOException(NAME + ": " + b.length + " bytes, more than " + MAX_TOTAL_BYTES);
        ByteBuffer in = ByteBuffer.wrap(b);
        try {
            if (in.getInt() != MAGIC) throw new IOException(NAME + ": bad magic");
            int n = in.get() & 0xff;
            if (n > 3) throw new IOException(NAME + ": " + n + " stdio entries");
            List<Stdio> stdio = new ArrayList<>(n);
            for (int i = 0; i < n; i++) stdio.add(new Stdio(in.get(), readString(in, 64)));
            int m = in.getShort() & 0xffff;
            if (m > MAX_ENTRIES) throw new IOException(NAME + ": " + m + " shared files");
            List<SharedFile> files = new ArrayList<>(m);
            for (int i = 0; i < m; i++) {
                String path = readString(in, MAX_PATH_BYTES);
                int mode = in.getInt(), uid = in.getInt(), gid = in.getInt(), len = in.getInt();
                if (len < 0 || len > MAX_SHARED_FILE_BYTES || len > in.remaining()) throw new IOException(NAME + ": shared file of " + len + " bytes");
                byte[] contents = new byte[len];
                in.get(contents);
                files.add(new SharedFile(path, mode, uid, gid, contents));
            }
            if (in.hasRemaining()) throw new IOException(NAME + ": " + in.remaining() + " trailing bytes");
            return new HostFiles(stdio, files);
        } catch (BufferUnderflowException e) {
            throw new IOException(NAME + ": truncated");
        } catch (IllegalArgumentException e) {
            throw new IOException(NAME + ": " + e.getMessage());
        }
    }

    private static void checkPath(String path) {
        Objects.requireNonNull(path, "path");
        if (!path.startsWith("/") || path.indexOf('\0') >= 0 || path.getBytes(StandardCharsets.UTF_8).length > MAX_PATH_BYTES
                || path.contains("//") || path.endsWith("/")) {
            throw new IllegalArgumentException("not an absolute file path: " + path);
        }
        for (String part : path.substring(1).split("/")) {
            if (part.equals(".") || part.equals("..")) throw new IllegalArgumentException("path with . or ..: " + path);
        }
    }

    private static void writeString(DataOutputStream out, String s) throws IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeShort(b.length);
        out.write(b);
    }

    private static String readString(ByteBuffer in, int max) throws IOException {
        int len = in.getShort() & 0xffff;
        if (len > max || len > in.remaining()) throw new IOException(NAME + ": string of " + len + " bytes");
        byte[] b = new byte[len];
        in.get(b);
        return new String(b, StandardCharsets.UTF_8);
    }
}
