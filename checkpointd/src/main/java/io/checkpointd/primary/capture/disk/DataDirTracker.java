package io.checkpointd.primary.capture.disk;

import io.checkpointd.linux.inotify.DirtyHints;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Keeps the state of one data directory between epochs (per entry: inode, kind, mode, size, times, link
 * target, per-4 KiB-block hashes) and, called while the process is frozen, reports what changed since the
 * previous call as ordered {@link DirChange}s. Only what the {@link DirtyHints} name is looked at: directories
 * in {@code dirs} are listed, subtrees in {@code trees} walked, entries in {@code files} stat'ed and (regular
 * files) hashed. The first call, and any call whose hints say {@code all}, walk everything; an {@code all}
 * call skips re-reading a file whose inode, size, mode, mtime and ctime are unchanged.
 *
 * <p>Renames are recognised by inode; that is an optimisation only: a renamed file's content is compared
 * anyway, so an inode reused by an unrelated file still yields the right bytes. Hard links are replicated as
 * separate files; fifos and sockets are ignored. Not thread-safe.
 */
public final class DataDirTracker {
    /** Prefix of the temporary name an entry is moved to when its path is needed before it is renamed or deleted. */
    static final String ASIDE = ".checkpointd-aside-";

    private final Path root;
    private final NavigableMap<String, Entry> state = new TreeMap<>();
    private final Map<Long, String> pathOfIno = new HashMap<>();
    private final BlockHasher hasher = new BlockHasher();
    private boolean first = true;

    public DataDirTracker(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    /** Bytes of file data read so far, over all calls: the cost of capture, which should follow the change. */
    public long bytesRead() {
        return hasher.bytesRead();
    }

    /** Entries tracked now (files, directories, links; the root not counted). */
    public int entries() {
        return state.size();
    }

    /** {@link #capture(DirtyHints, Consumer)} into a list. */
    public List<DirChange> capture(DirtyHints hints) throws IOException {
        List<DirChange> out = new ArrayList<>();
        capture(hints, out::add);
        return out;
    }

    /**
     * Emits, in replay order, what changed since the previous call (the first call: everything). Changes are
     * streamed to {@code out} as found so a full copy need not fit in memory.
     */
    public void capture(DirtyHints hints, Consumer<DirChange> out) throws IOException {
        boolean all = first || hints.all();
        Set<String> listed = new HashSet<>();
        Map<String, Entry> seen = new TreeMap<>(DEPTH_FIRST);
        if (all) {
            walk("", listed, seen);
        } else {
            for (String t : hints.trees()) if (reachable(t)) walk(t, listed, seen);
            for (String d : hints.dirs()) if (reachable(d) && isRealDir(d)) list(d, listed, seen);
            for (String f : hints.files()) {
                if (f.isEmpty() || seen.containsKey(f)) continue; // the root's own mode belongs to each side
                if (!reachable(f)) continue; // an ancestor was replaced: its parent's listing says so
                Entry e = Entry.stat(resolve(f));
                if (e != null) seen.put(f, e);
            }
        }
        new Epoch(all, hints, listed, seen, out).run();
        first = false;
    }

    /** Parents before children, so a directory exists before anything is put in it. */
    private static final Comparator<String> DEPTH_FIRST = Comparator.<String>comparingInt(DataDirTracker::depth)
            .thenComparing(Comparator.naturalOrder());

    private static int depth(String p) {
        if (p.isEmpty()) return 0;
        int d = 1;
        for (int i = 0; i < p.length(); i++) if (p.charAt(i) == '/') d++;
        return d;
    }

    private Path resolve(String rel) {
        return rel.isEmpty() ? root : root.resolve(rel);
    }

    /**
     * Whether every ancestor of {@code rel} is still a directory, not a symlink: a hinted path is never resolved
     * through a link that replaced one of its directories (that would read, or loop, outside the tree).
     */
    private boolean reachable(String rel) {
        for (int i = rel.indexOf('/'); i >= 0; i = rel.indexOf('/', i + 1)) {
            if (!isRealDir(rel.substring(0, i))) return false;
        }
        return true;
    }

    private boolean isRealDir(String rel) {
        return Files.isDirectory(resolve(rel), LinkOption.NOFOLLOW_LINKS);
    }

    private static String child(String dir, String name) {
        return dir.isEmpty() ? name : dir + "/" + name;
    }

    /** Lists one directory: its entries are {@code seen}; entries the state has under it and it lacks are gone. */
    private List<String> list(String dir, Set<String> listed, Map<String, Entry> seen) throws IOException {
        if (!listed.add(dir)) return List.of();
        List<Path> kids;
        try (Stream<Path> s = Files.list(resolve(dir))) {
            kids = s.toList();
        } catch (NoSuchFileException | NotDirectoryException e) {
            listed.remove(dir); // gone or replaced: its parent's listing says so
            return List.of();
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        List<String> subdirs = new ArrayList<>();
        for (Path k : kids) {
            String rel = child(dir, k.getFileName().toString());
            Entry e = Entry.stat(k);
            if (e == null) continue;
            seen.put(rel, e);
            if (e.kind == Entry.Kind.DIR) subdirs.add(rel);
        }
        return subdirs;
    }

    private void walk(String dir, Set<String> listed, Map<String, Entry> seen) throws IOException {
        if (!dir.isEmpty() && !seen.containsKey(dir)) {
            Entry self = Entry.stat(resolve(dir));
            if (self == null || self.kind != Entry.Kind.DIR) return;
            seen.put(dir, self);
        }
        for (String d : list(dir, listed, seen)) walk(d, listed, seen);
    }

    /** One call's comparison of what was {@code seen} with the state; updates the state as it emits. */
    private final class Epoch {
        private final boolean all;
        private final DirtyHints hints;
        private final Set<String> listed;
        private final Map<String, Entry> seen;
        private final Consumer<DirChange> out;
        private final Set<String> aside = new HashSet<>();

        Epoch(boolean all, DirtyHints hints, Set<String> listed, Map<String, Entry> seen, Consumer<DirChange> out) {
            this.all = all;
            this.hints = hints;
            this.listed = listed;
            this.seen = seen;
            this.out = out;
        }

        void run() throws IOException {
            List<String> compare = new ArrayList<>();
            for (var en : seen.entrySet()) {
                String p = en.getKey();
                Entry now = en.getValue(), was = state.get(p);
                if (was != null && was.ino == now.ino && was.kind == now.kind) {
                    if (all || hints.files().contains(p) || underTree(p)) compare.add(p);
                    continue;
                }
                String from = pathOfIno.get(now.ino);
                boolean stillThere = from != null && stillHolds(from, now.ino);
                if (was != null) {
                    moveAside(p);
                    from = pathOfIno.get(now.ino); // the source may have been under p: it moved aside with it
                }
                Entry src = from == null ? null : state.get(from);
                if (src != null && src.kind == now.kind && !from.equals(p) && !stillThere && !isAncestor(from, p)) {
                    out.accept(new DirChange.Rename(from, p));
                    rekey(from, p);
                    compare.add(p); // content may have changed too
                } else {
                    create(p, now);
                }
            }
            deleteGone();
            for (String p : compare) update(p, seen.get(p));
        }

        /** A second name for the inode (a hard link) leaves the first in place: not a rename. */
        private boolean stillHolds(String from, long ino) throws IOException {
            Entry e = seen.containsKey(from) ? seen.get(from) : Entry.stat(resolve(from));
            return e != null && e.ino == ino;
        }

        private boolean underTree(String p) {
            for (String t : hints.trees()) if (p.startsWith(t + "/")) return true;
            return false;
        }

        private void create(String p, Entry now) throws IOException {
            switch (now.kind) {
                case DIR -> out.accept(new DirChange.MakeDir(p, now.mode));
                case LINK -> out.accept(new DirChange.Symlink(p, now.target));
                case FILE -> {
                    out.accept(new DirChange.CreateFile(p, now.mode));
                    if (now.size > 0) out.accept(new DirChange.Resize(p, now.size));
                    now.hashes = hasher.diff(resolve(p), p, now.size, new long[0], out);
                }
            }
            if (now.ownedByOther()) out.accept(new DirChange.Owner(p, now.uid, now.gid));
            put(p, now);
        }

        /** Compares an entry that kept its inode (or was renamed) with its state. */
        private void update(String p, Entry now) throws IOException {
            Entry was = state.get(p);
            // Hinted entries are always compared; a walk (overflow, moved-in tree) trusts unchanged inode, size and
            // times, since it would otherwise re-read every file it passes.
            boolean hinted = !all && hints.files().contains(p);
            if (!first && !hinted && now.unchangedSince(was)) return;
            if (now.uid != was.uid || now.gid != was.gid) out.accept(new DirChange.Owner(p, now.uid, now.gid));
            if (now.mode != was.mode) out.accept(new DirChange.Mode(p, now.mode));
            if (now.kind == Entry.Kind.LINK && !now.target.equals(was.target)) out.accept(new DirChange.Symlink(p, now.target));
            if (now.kind == Entry.Kind.FILE) {
                if (now.size != was.size) out.accept(new DirChange.Resize(p, now.size));
                now.hashes = hasher.diff(resolve(p), p, now.size, was.hashes, out);
            }
            put(p, now);
        }

        /** Frees {@code p} for a new entry; what was there is renamed to its own new path later, or deleted. */
        private void moveAside(String p) {
            Entry e = state.get(p);
            String tmp = ASIDE + e.ino;
            out.accept(new DirChange.Rename(p, tmp));
            rekey(p, tmp);
            aside.add(tmp);
        }

        /** Deletes what the listed directories no longer hold, and whatever was moved aside and not reused. */
        private void deleteGone() {
            Set<String> gone = new HashSet<>();
            for (String d : listed) {
                for (String p : descendants(d).keySet()) {
                    if (p.indexOf('/', d.isEmpty() ? 0 : d.length() + 1) < 0 && !seen.containsKey(p)) gone.add(p);
                }
            }
            for (String a : aside) if (state.containsKey(a)) gone.add(a);
            List<String> doomed = new ArrayList<>();
            for (String g : gone) {
                doomed.add(g);
                doomed.addAll(descendants(g).keySet());
            }
            doomed.stream().distinct().sorted(DEPTH_FIRST.reversed()).forEach(p -> {
                out.accept(new DirChange.Delete(p));
                remove(p);
            });
        }
    }

    private static boolean isAncestor(String a, String p) {
        return p.startsWith(a + "/");
    }

    /** Entries strictly under {@code dir} (all of them for the root). */
    private NavigableMap<String, Entry> descendants(String dir) {
        if (dir.isEmpty()) return state;
        return state.subMap(dir + "/", true, dir + "0", false); // '0' sorts right after '/'
    }

    private void put(String p, Entry e) {
        Entry old = state.put(p, e);
        if (old != null && p.equals(pathOfIno.get(old.ino))) pathOfIno.remove(old.ino);
        pathOfIno.put(e.ino, p);
    }

    private void remove(String p) {
        Entry e = state.remove(p);
        if (e != null && p.equals(pathOfIno.get(e.ino))) pathOfIno.remove(e.ino);
    }

    /** Moves an entry and its subtree in the state, as the rename it mirrors moved them on disk. */
    private void rekey(String from, String to) {
        Map<String, Entry> moved = new TreeMap<>(descendants(from));
        Entry self = state.get(from);
        remove(from);
        for (String k : moved.keySet()) remove(k);
        put(to, self);
        for (var en : moved.entrySet()) put(to + en.getKey().substring(from.length()), en.getValue());
    }
}
