package io.checkpointd.restore.store;

import io.checkpointd.protocol.ProtocolException;
import io.checkpointd.protocol.image.ImageDirs;
import io.checkpointd.protocol.replication.EpochRecord;
import io.checkpointd.protocol.replication.EpochRecord.DirRecord;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Properties;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * The committed replica of the protected process's data directories ({@code protect --data-dir}), part of the
 * committed image like its memory: {@code base-B/data/<i>/} holds directory <i>i</i> as of base epoch B
 * ({@code base-B/data/ROOTS} says where each lives on the primary), and the {@code DIR_*} records of the logged
 * epochs B &lt; N ≤ committed, which stay in the epochs' log files, bring it to the committed epoch. So the store's
 * existing steps (stage, verify, fsync, rename, atomic STATE) commit a directory's change with its memory epoch,
 * and a crash at any instant leaves base + logged records = the last committed epoch.
 *
 * <p>Instances are immutable: an {@link Epoch} being received yields the next replica, which the store adopts only
 * at commit. Every record is checked against a model of the tree (kind and size of every entry) before the epoch
 * commits, so replaying a committed epoch cannot fail on a record that does not fit: no parent, a target that
 * exists, a write past the end, a path through a symlink.
 */
final class DataReplica {
    static final String DATA = "data", ROOTS = "ROOTS";

    /** Where one record's payload is: {@code len} bytes at {@code pos} in a log file. */
    record Ref(Path log, long pos, int len) {
    }

    /** What the model knows of an entry: enough to check that a record fits. */
    private record Node(boolean dir, boolean link, long size) {
        static final Node DIR = new Node(true, false, 0), LINK = new Node(false, true, 0);

        static Node file(long size) {
            return new Node(false, false, size);
        }
    }

    /** {@code base-B/data}, or null when the base holds no data dirs (or there is no base). */
    private final Path baseData;
    /** Data dir index → its absolute path on the primary, as of the committed epoch. */
    private final Map<Integer, String> roots;
    /**
     * Data dir → index in {@link #refs} of its latest DIR_ROOT: its base copy and the records before that one no
     * longer count.
     */
    private final Map<Integer, Integer> reset;
    /** Every DIR record of the logged epochs, in order. */
    private final List<Ref> refs;
    private final Map<Integer, NavigableMap<String, Node>> model;

    private DataReplica(Path baseData, Map<Integer, String> roots, Map<Integer, Integer> reset, List<Ref> refs,
                        Map<Integer, NavigableMap<String, Node>> model) {
        this.baseData = baseData;
        this.roots = roots;
        this.reset = reset;
        this.refs = refs;
        this.model = model;
    }

    /** The replica as of base directory {@code base} (null: no base), before any logged epoch. */
    static DataReplica ofBase(Path base) throws IOException {
        Path data = base == null ? null : base.resolve(DATA);
        if (data == null || !Files.isDirectory(data)) return new DataReplica(null, Map.of(), Map.of(), List.of(), Map.of());
        Map<Integer, String> roots = readRoots(data);
        Map<Integer, NavigableMap<String, Node>> model = new HashMap<>();
        for (int i : roots.keySet()) model.put(i, scan(data.resolve(Integer.toString(i))));
        return new DataReplica(data, Map.copyOf(roots), Map.of(), List.of(), model);
    }

    /** Data dir index → absolute path on the primary. */
    Map<Integer, String> roots() {
        return roots;
    }

    boolean isEmpty() {
        return roots.isEmpty();
    }

    /** Starts the next epoch; {@code full}: it replaces everything (the replica starts empty). */
    Epoch begin(boolean full) {
        return new Epoch(full, full ? Map.of() : model);
    }

    /**
     * The DIR records of one epoch, checked as they arrive against the tree as of the epoch it follows;
     * {@link #result(DataReplica)} puts them on top of the replica committed by then (which a compaction may have
     * re-based meanwhile: same tree, another representation).
     */
    final class Epoch {
        private final boolean full;
        private final Map<Integer, NavigableMap<String, Node>> model;
        private final Map<Integer, String> roots = new HashMap<>();
        /** Data dir → index in {@link #refs} of its latest DIR_ROOT in this epoch. */
        private final Map<Integer, Integer> resets = new HashMap<>();
        private final List<Ref> refs = new ArrayList<>();
        private final Map<Integer, Boolean> copied = new HashMap<>();

        private Epoch(boolean full, Map<Integer, NavigableMap<String, Node>> model) {
            this.full = full;
            this.model = new HashMap<>(model);
        }

        /** Notes record {@code r} (its payload is {@code len} bytes at {@code pos} of {@code log}) if it is a DIR record. */
        void add(EpochRecord r, Path log, long pos, int len) throws ProtocolException {
            if (!(r instanceof DirRecord d)) return;
            if (d instanceof EpochRecord.DirRoot root) {
                roots.put(d.dir(), root.root());
                resets.put(d.dir(), refs.size());
                model.put(d.dir(), new TreeMap<>());
                copied.put(d.dir(), true);
            } else {
                if (!model.containsKey(d.dir())) throw new ProtocolException("data dir " + d.dir() + " has no DIR_ROOT");
                if (copied.put(d.dir(), true) == null) model.put(d.dir(), new TreeMap<>(model.get(d.dir()))); // copy on first write
                check(model.get(d.dir()), d);
            }
            refs.add(new Ref(log, pos, len));
        }

        /** The replica after this epoch, on top of {@code committed} (the store's replica at commit time). */
        DataReplica result(DataReplica committed) {
            if (full) return new DataReplica(null, Map.copyOf(roots), Map.copyOf(resets), List.copyOf(refs), model);
            if (refs.isEmpty()) return committed;
            Map<Integer, String> r = new HashMap<>(committed.roots);
            r.putAll(roots);
            Map<Integer, Integer> reset = new HashMap<>(committed.reset);
            resets.forEach((i, at) -> reset.put(i, committed.refs.size() + at));
            List<Ref> all = new ArrayList<>(committed.refs);
            all.addAll(refs);
            return new DataReplica(committed.baseData, Map.copyOf(r), Map.copyOf(reset), List.copyOf(all), model);
        }
    }

    /** Checks {@code r} against the tree and applies it to the model. */
    private static void check(NavigableMap<String, Node> m, DirRecord r) throws ProtocolException {
        String p = r.path();
        Node at = m.get(p);
        if (r instanceof EpochRecord.DirMkdir || r instanceof EpochRecord.DirCreate) {
            parentIsDir(m, p);
            if (at != null) throw bad(r, "exists");
            m.put(p, r instanceof EpochRecord.DirMkdir ? Node.DIR : Node.file(0));
        } else if (r instanceof EpochRecord.DirSymlink) {
            parentIsDir(m, p);
            if (at != null && !at.link()) throw bad(r, "exists and is not a link");
            m.put(p, Node.LINK);
        } else if (r instanceof EpochRecord.DirRename mv) {
            Node src = m.get(mv.from());
            if (src == null) throw bad(r, "source " + mv.from() + " does not exist");
            parentIsDir(m, p);
            if (at != null) throw bad(r, "target exists");
            Map<String, Node> sub = new TreeMap<>(subtree(m, mv.from()));
            m.remove(mv.from());
            sub.keySet().forEach(m::remove);
            m.put(p, src);
            sub.forEach((k, v) -> m.put(p + k.substring(mv.from().length()), v));
        } else if (r instanceof EpochRecord.DirDelete) {
            if (at == null) throw bad(r, "does not exist");
            if (at.dir() && !subtree(m, p).isEmpty()) throw bad(r, "directory not empty");
            m.remove(p);
        } else if (r instanceof EpochRecord.DirResize rs) {
            if (at == null || at.dir() || at.link()) throw bad(r, "is not a regular file");
            m.put(p, Node.file(rs.size()));
        } else if (r instanceof EpochRecord.DirMode || r instanceof EpochRecord.DirOwner) {
            if (at == null) throw bad(r, "does not exist");
        } else if (r instanceof EpochRecord.DirBlocks b) {
            if (at == null || at.dir() || at.link()) throw bad(r, "is not a regular file");
            if (b.offset() + b.data().length > at.size()) throw bad(r, "writes past the end (" + at.size() + " bytes)");
        }
    }

    private static void parentIsDir(NavigableMap<String, Node> m, String p) throws ProtocolException {
        int slash = p.lastIndexOf('/');
        if (slash < 0) return;
        // every ancestor is in the model as a directory (not a link): nothing is ever written through a symlink
        for (int i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) {
            Node n = m.get(p.substring(0, i));
            if (n == null || !n.dir()) throw new ProtocolException("data dir path " + p + ": " + p.substring(0, i) + " is not a directory");
        }
    }

    private static NavigableMap<String, Node> subtree(NavigableMap<String, Node> m, String dir) {
        return m.subMap(dir + "/", true, dir + "0", false); // '0' sorts right after '/'
    }

    private static ProtocolException bad(DirRecord r, String why) {
        return new ProtocolException("data dir " + r.dir() + " record " + r.getClass().getSimpleName() + " " + r.path() + ": " + why);
    }

    /**
     * Writes the replica into {@code target} ({@code target/<i>/} and {@code target/ROOTS}, created): the base's
     * files hard-linked (a record that changes one first replaces the link with a private copy, so the committed
     * base is never written) and the logged records replayed; with {@code durable}, everything fsynced.
     */
    void foldInto(Path target, boolean durable) throws IOException {
        Files.createDirectories(target);
        for (int i : roots.keySet()) write(i, target.resolve(Integer.toString(i)), true);
        writeRoots(target, roots);
        if (durable) fsyncTree(target);
    }

    /**
     * Writes every data dir at the path {@code at} gives for its primary path (failover: the path itself), which
     * is emptied first; nothing is shared with the store.
     */
    void materialize(Function<String, Path> at) throws IOException {
        for (var e : roots.entrySet()) {
            Path dir = at.apply(e.getValue()).toAbsolutePath().normalize();
            if (isSystemDir(dir)) throw new IOException("refusing to replace " + dir + " with data dir " + e.getKey() + ": a system directory");
            Files.createDirectories(dir);
            emptyDir(dir);
            write(e.getKey(), dir, false);
        }
    }

    private void write(int i, Path dir, boolean link) throws IOException {
        Files.createDirectories(dir);
        if (baseData != null && !reset.containsKey(i)) {
            Path src = baseData.resolve(Integer.toString(i));
            if (Files.isDirectory(src)) cloneTree(src, dir, link);
        }
        Map<Path, FileChannel> open = new HashMap<>();
        try {
            for (Ref r : refs.subList(reset.getOrDefault(i, 0), refs.size())) {
                EpochRecord rec = EpochRecord.decode(read(open, r));
                if (!(rec instanceof DirRecord d) || d.dir() != i) continue;
                if (d instanceof EpochRecord.DirRoot) {
                    emptyDir(dir); // a full copy follows (dir may be a mount point: only its entries go)
                    continue;
                }
                try {
                    DirReplay.apply(dir, d);
                } catch (IOException e) {
                    throw new IOException("replaying " + d + " (record of " + r.log().getFileName() + ") on " + dir + ": " + e, e);
                }
            }
        } finally {
            for (FileChannel c : open.values()) c.close();
        }
    }

    /** Directories a data dir must never be (nor contain): materializing empties the directory first. */
    static final List<String> SYSTEM_DIRS = List.of("/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64",
            "/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/var/lib", "/var/tmp");

    /** True for {@code /} and the top-level system directories (a data dir may live below them, not be them). */
    static boolean isSystemDir(Path dir) {
        return SYSTEM_DIRS.contains(dir.toString()) || dir.getParent() == null;
    }

    private static void emptyDir(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) ImageDirs.deleteTree(p);
                else Files.delete(p); // a dangling symlink too (deleteTree skips what does not "exist")
            }
        }
    }

    private static byte[] read(Map<Path, FileChannel> open, Ref r) throws IOException {
        FileChannel in = open.get(r.log());
        if (in == null) {
            in = FileChannel.open(r.log(), StandardOpenOption.READ);
            open.put(r.log(), in);
        }
        ByteBuffer b = ByteBuffer.allocate(r.len());
        while (b.hasRemaining()) {
            if (in.read(b, r.pos() + b.position()) < 0) throw new IOException("store log " + r.log() + " is short");
        }
        return b.array();
    }

    /** Recreates the tree {@code src} under {@code dst}: directories, links, and files linked or sparse-copied. */
    private static void cloneTree(Path src, Path dst, boolean link) throws IOException {
        try (Stream<Path> s = Files.walk(src)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                if (p.equals(src)) continue;
                Path q = dst.resolve(src.relativize(p).toString());
                if (Files.isSymbolicLink(p)) {
                    Files.createSymbolicLink(q, Files.readSymbolicLink(p));
                    DirReplay.copyOwner(p, q);
                } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    Files.createDirectory(q);
                    DirReplay.copyOwner(p, q);
                    DirReplay.chmod(q, DirReplay.mode(p)); // after chown, which clears setuid/setgid
                } else if (link) {
                    Files.createLink(q, p);
                } else {
                    SparseCopy.copy(p, q);
                    DirReplay.copyOwner(p, q);
                    DirReplay.chmod(q, DirReplay.mode(p));
                }
            }
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    /** The model of a replica directory on disk (a base's). */
    private static NavigableMap<String, Node> scan(Path dir) throws IOException {
        NavigableMap<String, Node> m = new TreeMap<>();
        if (!Files.isDirectory(dir)) return m;
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                if (p.equals(dir)) continue;
                String rel = dir.relativize(p).toString();
                if (Files.isSymbolicLink(p)) m.put(rel, Node.LINK);
                else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) m.put(rel, Node.DIR);
                else m.put(rel, Node.file(Files.size(p)));
            }
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        return m;
    }

    private static Map<Integer, String> readRoots(Path data) throws IOException {
        Properties p = new Properties();
        try (var r = Files.newBufferedReader(data.resolve(ROOTS), StandardCharsets.UTF_8)) {
            p.load(r);
        }
        Map<Integer, String> roots = new TreeMap<>();
        try {
            for (String k : p.stringPropertyNames()) roots.put(Integer.parseInt(k), p.getProperty(k));
        } catch (NumberFormatException e) {
            throw new IOException("corrupt " + data.resolve(ROOTS));
        }
        return roots;
    }

    private static void writeRoots(Path data, Map<Integer, String> roots) throws IOException {
        Properties p = new Properties();
        roots.forEach((i, path) -> p.setProperty(Integer.toString(i), path));
        java.io.StringWriter w = new java.io.StringWriter();
        p.store(w, "data dir index = its path on the primary");
        StoreState.writeDurably(data.resolve(ROOTS), w.toString().getBytes(StandardCharsets.UTF_8));
    }

    /** fsyncs every regular file and directory under {@code root} (links share already-durable inodes). */
    private static void fsyncTree(Path root) throws IOException {
        List<Path> dirs = new ArrayList<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                if (Files.isSymbolicLink(p)) continue;
                if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    dirs.add(p);
                } else {
                    try (FileChannel c = FileChannel.open(p, StandardOpenOption.READ)) {
                        c.force(true);
                    }
                }
            }
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        for (Path d : dirs) StoreState.fsyncDir(d);
    }
}
