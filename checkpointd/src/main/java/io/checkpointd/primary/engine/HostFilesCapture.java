package io.checkpointd.primary.engine;

import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.proc.Vma;
import io.checkpointd.protocol.image.HostFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads what the process holds on this host outside CRIU's images ({@link HostFiles}): stdio on a pipe or a unix
 * socket, and the JVM's perf-data file it maps shared. Called with the process frozen, right before its CRIU dump, so
 * the contents match the dump's instant.
 */
final class HostFilesCapture {
    private static final Logger log = LoggerFactory.getLogger(HostFilesCapture.class);
    private static final Pattern STDIO = Pattern.compile("(pipe|socket):\\[([0-9]+)\\]");
    private static final Set<String> warned = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private HostFilesCapture() {
    }

    static HostFiles read(int pid) throws IOException {
        Path proc = ProcFs.dir(pid);
        List<HostFiles.Stdio> stdio = new ArrayList<>();
        Set<Long> unixSockets = null;
        for (int fd = 0; fd <= 2; fd++) {
            String target;
            try {
                target = Files.readSymbolicLink(proc.resolve("fd/" + fd)).toString();
            } catch (NoSuchFileException closed) {
                continue;
            }
            Matcher m = STDIO.matcher(target);
            if (!m.matches()) continue; // /dev/null, a tty, a regular file: CRIU reopens those by path
            if (m.group(1).equals("socket")) {
                if (unixSockets == null) unixSockets = unixInodes(proc);
                // a TCP socket on stdio (inetd style) is the engine's usual socket business, not a host stream
                if (!unixSockets.contains(Long.parseLong(m.group(2)))) continue;
            }
            stdio.add(new HostFiles.Stdio(fd, target));
        }
        Map<String, HostFiles.SharedFile> shared = new LinkedHashMap<>();
        for (Vma v : ProcFs.maps(pid)) {
            if (v.isPrivate() || v.inode() == 0 || !HostFiles.isPerfData(v.path())) continue;
            if (shared.containsKey(v.path())) continue;
            HostFiles.SharedFile f = sharedFile(proc, v.path());
            if (f != null) shared.put(v.path(), f);
        }
        return new HostFiles(stdio, new ArrayList<>(shared.values()));
    }

    /** The file as the process sees it (through its root), or null when it is not a small regular file. */
    private static HostFiles.SharedFile sharedFile(Path proc, String path) throws IOException {
        Path p = proc.resolve("root").resolve(path.substring(1));
        Map<String, Object> a;
        try {
            a = Files.readAttributes(p, "unix:mode,uid,gid,size,isRegularFile", LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException gone) {
            return null;
        }
        if (!(Boolean) a.get("isRegularFile")) return null;
        if ((Long) a.get("size") > HostFiles.MAX_SHARED_FILE_BYTES) {
            if (warned.add(path)) log.warn("{} is larger than {} bytes: not carried to the backup", path, HostFiles.MAX_SHARED_FILE_BYTES);
            return null;
        }
        byte[] contents = Files.readAllBytes(p);
        if (contents.length > HostFiles.MAX_SHARED_FILE_BYTES) return null; // grew meanwhile
        return new HostFiles.SharedFile(path, (Integer) a.get("mode") & 07777, (Integer) a.get("uid"), (Integer) a.get("gid"), contents);
    }

    /** Inodes of the unix sockets in the process's network namespace ({@code /proc/PID/net/unix}, column 7). */
    private static Set<Long> unixInodes(Path proc) throws IOException {
        Set<Long> out = new TreeSet<>();
        List<String> lines = Files.readAllLines(proc.resolve("net/unix"));
        for (int i = 1; i < lines.size(); i++) {
            String[] f = lines.get(i).trim().split("\\s+");
            if (f.length >= 7) out.add(Long.parseLong(f[6]));
        }
        return out;
    }
}
