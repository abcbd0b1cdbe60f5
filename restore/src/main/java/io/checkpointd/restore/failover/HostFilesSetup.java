package io.checkpointd.restore.failover;

import io.checkpointd.linux.FileDescriptor;
import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.Syscalls;
import io.checkpointd.linux.criu.RestoreOptions;
import io.checkpointd.protocol.image.HostFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Before a restore, makes this host offer what the image's {@link HostFiles} say the process held on the old one:
 * creates each missing shared-mapped file (contents, mode and owner as of the dump; never one that exists, such as a
 * data dir's), and opens a replacement for each stdio pipe or socket (see {@link ServiceOutput}); both are handed to
 * CRIU as {@code --inherit-fd}. Close it once CRIU has restored: the restored process holds its own copies.
 */
final class HostFilesSetup implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(HostFilesSetup.class);
    private static final int STDERR_PRIORITY = 3, STDOUT_PRIORITY = 6; // syslog err, info

    private final Map<String, FileDescriptor> inherited;

    private HostFilesSetup(Map<String, FileDescriptor> inherited) {
        this.inherited = inherited;
    }

    /** Reads {@link HostFiles#NAME} in {@code images} (none: nothing to do) and prepares this host. */
    static HostFilesSetup prepare(Path images, ServiceOutput output) throws IOException {
        Path f = images.resolve(HostFiles.NAME);
        HostFiles host = Files.exists(f) ? HostFiles.decode(Files.readAllBytes(f)) : HostFiles.NONE;
        Map<String, FileDescriptor> fds = new LinkedHashMap<>();
        try {
            for (HostFiles.SharedFile s : host.sharedFiles()) {
                FileDescriptor fd = createIfMissing(s);
                // CRIU maps the file through this fd, not its name: any JVM of the same user that starts meanwhile
                // deletes an hsperfdata file whose pid is not (yet) alive; the key is CRIU's path, without the '/'
                if (fd != null) fds.put(s.path().substring(1), fd);
            }
            for (HostFiles.Stdio s : host.stdio()) {
                if (fds.containsKey(s.key())) continue; // stdout and stderr on one pipe: one replacement serves both
                fds.put(s.key(), open(s, output));
                log.info("failover: the service's fd {} ({}) goes to {}", s.fd(), s.key(), describe(s, output));
            }
        } catch (IOException | RuntimeException e) {
            fds.values().forEach(FileDescriptor::close);
            throw e;
        }
        return new HostFilesSetup(fds);
    }

    /** Adds an {@code --inherit-fd} for each replacement. */
    RestoreOptions.Builder addTo(RestoreOptions.Builder b) {
        inherited.forEach((key, fd) -> b.inheritFd(key, fd.fd()));
        return b;
    }

    /** The keys replaced, for tests and logs. */
    List<String> keys() {
        return new ArrayList<>(inherited.keySet());
    }

    @Override
    public void close() {
        inherited.values().forEach(FileDescriptor::close);
    }

    private static FileDescriptor open(HostFiles.Stdio s, ServiceOutput output) throws IOException {
        try {
            if (s.fd() == 0) return Syscalls.openInheritable("/dev/null", Syscalls.O_RDONLY); // its writer stayed behind
            if (output instanceof ServiceOutput.ToJournal j) {
                FileDescriptor fd = Syscalls.connectUnixStream(j.socket().toString());
                try {
                    // journald's stdout-stream header: identifier, unit, priority, level prefix, to syslog, kmsg, console
                    int prio = s.fd() == 2 ? STDERR_PRIORITY : STDOUT_PRIORITY;
                    Syscalls.writeFully(fd, (j.identifier() + "\n\n" + prio + "\n0\n0\n0\n0\n").getBytes(StandardCharsets.UTF_8));
                } catch (SyscallException e) {
                    fd.close();
                    throw e;
                }
                return fd;
            }
            Path p = ((ServiceOutput.ToFile) output).path();
            if (p.getParent() != null) Files.createDirectories(p.getParent());
            return Syscalls.openInheritableAppend(p.toString(), 0640);
        } catch (SyscallException e) {
            throw new IOException("cannot open the restored service's " + (s.fd() == 0 ? "stdin" : "output") + ": " + e.getMessage(), e);
        }
    }

    private static String describe(HostFiles.Stdio s, ServiceOutput output) {
        if (s.fd() == 0) return "/dev/null";
        return output instanceof ServiceOutput.ToJournal j ? "the journal (" + j.identifier() + ")" : ((ServiceOutput.ToFile) output).path().toString();
    }

    /**
     * Creates {@code s} when nothing is at its path: parents 0755 owned like the file, then the file by rename.
     * Returns it opened read-write (opened before the rename, so it is this file whatever happens to the name since),
     * or null when it existed.
     */
    private static FileDescriptor createIfMissing(HostFiles.SharedFile s) throws IOException {
        Path p = Path.of(s.path());
        if (Files.exists(p, LinkOption.NOFOLLOW_LINKS)) return null;
        Path parent = p.getParent();
        List<Path> made = new ArrayList<>();
        for (Path d = parent; d != null && !Files.exists(d, LinkOption.NOFOLLOW_LINKS); d = d.getParent()) made.add(0, d);
        for (Path d : made) {
            try {
                Files.createDirectory(d);
            } catch (FileAlreadyExistsException raced) {
                continue;
            }
            Files.setPosixFilePermissions(d, perms(0755));
            chown(d, s.uid(), s.gid());
        }
        Path tmp = parent.resolve("." + p.getFileName() + ".checkpointd-tmp");
        Files.write(tmp, s.contents());
        Files.setPosixFilePermissions(tmp, perms(s.mode()));
        chown(tmp, s.uid(), s.gid());
        FileDescriptor fd = null;
        try {
            fd = Syscalls.openInheritable(tmp.toString(), Syscalls.O_RDWR);
            Files.move(tmp, p, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            if (fd != null) fd.close();
            Files.deleteIfExists(tmp);
            throw e;
        }
        log.info("failover: created {} ({} bytes, mode {}, owner {}:{}), mapped shared by the service", p, s.contents().length,
                Integer.toOctalString(s.mode()), s.uid(), s.gid());
        return fd;
    }

    private static void chown(Path p, int uid, int gid) throws IOException {
        Files.setAttribute(p, "unix:uid", uid, LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(p, "unix:gid", gid, LinkOption.NOFOLLOW_LINKS);
    }

    /** rwx bits; setuid/setgid/sticky are not carried for a file created here. */
    private static Set<PosixFilePermission> perms(int mode) {
        Set<PosixFilePermission> out = EnumSet.noneOf(PosixFilePermission.class);
        PosixFilePermission[] order = {PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_READ,
            PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_READ,
            PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_READ};
        for (int i = 0; i < order.length; i++) if ((mode & (1 << i)) != 0) out.add(order[i]);
        return out;
    }
}
