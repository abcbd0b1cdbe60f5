package io.checkpointd.linux.inotify;

import io.checkpointd.linux.Errno;
import io.checkpointd.linux.SyscallException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Watches a directory tree with one inotify watch per directory (inotify has no recursive mode) and turns its
 * events into {@link DirtyHints}. New and moved-in directories get watches as their events are drained;
 * directories moved out lose theirs. Writes through a shared writable {@code mmap} produce no event: callers
 * must treat files mapped that way as always dirty.
 *
 * <p>Not thread-safe: one thread drains (in checkpointd, a drain thread that keeps the kernel queue short, plus
 * a final drain while the process is frozen).
 */
public final class DirWatcher implements AutoCloseable {
    /** Everything that changes an entry, its content or its attributes; not reads, not opens. */
    static final int MASK = Inotify.IN_MODIFY | Inotify.IN_ATTRIB | Inotify.IN_CREATE | Inotify.IN_DELETE
            | Inotify.IN_MOVED_FROM | Inotify.IN_MOVED_TO | Inotify.IN_ONLYDIR | Inotify.IN_DONT_FOLLOW
            | Inotify.IN_EXCL_UNLINK;

    private final Path root;
    private final Inotify inotify;
    private final Map<Integer, String> pathOfWd = new HashMap<>();
    private final Map<String, Integer> wdOfPath = new HashMap<>();
    private boolean all;
    private final Set<String> dirs = new HashSet<>(), files = new HashSet<>(), trees = new HashSet<>();

    private DirWatcher(Path root, Inotify inotify) {
        this.root = root;
        this.inotify = inotify;
    }

    /** Watches every directory under {@code root} now; the first {@link #drain()} reports everything dirty. */
    public static DirWatcher watch(Path root) throws IOException {
        DirWatcher w = new DirWatcher(root.toAbsolutePath().normalize(), Inotify.open());
        try {
            w.watchTree("");
        } catch (IOException | RuntimeException e) {
            w.close();
            throw e;
        }
        w.all = true; // nothing has been captured yet
        return w;
    }

    public Path root() {
        return root;
    }

    /** Directories watched now (one inotify watch each). */
    public int watchCount() {
        return pathOfWd.size();
    }

    /** Reads every queued event and returns what changed since the previous drain; never blocks. */
    public DirtyHints drain() throws IOException {
        for (InotifyEvent e : inotify.read()) handle(e);
        if (all) watchTree(""); // events were lost, so directories made meanwhile may have no watch yet
        DirtyHints h = new DirtyHints(all, dirs, files, trees);
        all = false;
        dirs.clear();
        files.clear();
        trees.clear();
        return h;
    }

    private void handle(InotifyEvent e) throws IOException {
        if (e.overflow()) {
            all = true;
            return;
        }
        String dir = pathOfWd.get(e.wd());
        if (dir == null) return; // a watch we already dropped
        if (e.any(Inotify.IN_IGNORED)) { // the directory is gone (or we removed the watch)
            pathOfWd.remove(e.wd());
            wdOfPath.remove(dir, e.wd());
            return;
        }
        if (e.name().isEmpty()) { // about the watched directory itself: its mode or times
            if (e.any(Inotify.IN_ATTRIB)) files.add(dir);
            return;
        }
        String path = dir.isEmpty() ? e.name() : dir + "/" + e.name();
        if (e.any(Inotify.IN_CREATE | Inotify.IN_DELETE | Inotify.IN_MOVED_FROM | Inotify.IN_MOVED_TO)) dirs.add(dir);
        if (e.any(Inotify.IN_MODIFY | Inotify.IN_ATTRIB | Inotify.IN_CREATE | Inotify.IN_MOVED_TO)) files.add(path);
        if (e.isDir() && e.any(Inotify.IN_MOVED_FROM)) unwatchTree(path);
        if (e.isDir() && e.any(Inotify.IN_CREATE | Inotify.IN_MOVED_TO)) {
            trees.add(path);
            watchTree(path);
        }
    }

    /** Adds (or re-labels: same inode, same wd) a watch on every directory of the subtree at {@code rel}. */
    private void watchTree(String rel) throws IOException {
        Path start = rel.isEmpty() ? root : root.resolve(rel);
        if (!Files.isDirectory(start, LinkOption.NOFOLLOW_LINKS)) return;
        List<Path> subdirs;
        try (Stream<Path> s = Files.walk(start)) {
            subdirs = s.filter(p -> Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)).toList();
        } catch (UncheckedIOException e) {
            throw e.getCause(); // raced with a delete: the delete's event will be drained and handled
        }
        for (Path d : subdirs) {
            String r = root.relativize(d).toString();
            try {
                int wd = inotify.addWatch(d.toString(), MASK);
                String old = pathOfWd.put(wd, r);
                if (old != null && !old.equals(r)) wdOfPath.remove(old, wd);
                wdOfPath.put(r, wd);
            } catch (SyscallException e) {
                if (e.errno() != Errno.ENOENT && e.errno() != 20 /* ENOTDIR */) throw e; // gone since the walk
            }
        }
    }

    /** Drops the watches of a subtree moved out (its inodes may live on elsewhere, outside the root). */
    private void unwatchTree(String rel) throws SyscallException {
        String prefix = rel + "/";
        for (var it = wdOfPath.entrySet().iterator(); it.hasNext(); ) {
            var en = it.next();
            if (en.getKey().equals(rel) || en.getKey().startsWith(prefix)) {
                pathOfWd.remove(en.getValue());
                it.remove();
                try {
                    inotify.rmWatch(en.getValue());
                } catch (SyscallException e) {
                    if (e.errno() != Errno.EINVAL) throw e; // already removed by the kernel
                }
            }
        }
    }

    @Override
    public void close() {
        inotify.close();
    }
}
