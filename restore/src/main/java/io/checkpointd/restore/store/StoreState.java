package io.checkpointd.restore.store;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

/**
 * The store's single source of truth, one small file replaced atomically (write, fsync, rename, fsync dir):
 * which generation/epoch is committed, which base directory and which logged epochs make it up, and the highest
 * generation fenced. Whatever is on disk and not named here is debris from a crash and is removed at open.
 */
record StoreState(long generation, long epoch, String base, List<Long> log, long fencedGeneration) {
    static final String FILE = "STATE";
    static final StoreState EMPTY = new StoreState(0, -1, "", List.of(), 0);

    boolean empty() {
        return epoch < 0;
    }

    StoreState withLogged(long gen, long ep, boolean full) {
        List<Long> l = new ArrayList<>(full ? List.of() : log);
        l.add(ep);
        return new StoreState(gen, ep, full ? "" : base, List.copyOf(l), fencedGeneration);
    }

    StoreState withBase(String newBase, long upToEpoch) {
        List<Long> l = new ArrayList<>();
        for (long e : log) if (e > upToEpoch) l.add(e);
        return new StoreState(generation, epoch, newBase, List.copyOf(l), fencedGeneration);
    }

    /** This state as of its logged delta epoch {@code ep}: the later logged epochs left out. */
    StoreState upTo(long ep) {
        List<Long> l = new ArrayList<>();
        for (long e : log) if (e <= ep) l.add(e);
        return new StoreState(generation, ep, base, List.copyOf(l), fencedGeneration);
    }

    StoreState withFenced(long gen) {
        return new StoreState(generation, epoch, base, log, Math.max(gen, fencedGeneration));
    }

    static StoreState read(Path dir) throws IOException {
        Path f = dir.resolve(FILE);
        if (!Files.exists(f)) return EMPTY;
        Properties p = new Properties();
        try (var r = Files.newBufferedReader(f, StandardCharsets.UTF_8)) {
            p.load(r);
        }
        try {
            List<Long> log = new ArrayList<>();
            String l = p.getProperty("log", "").trim();
            if (!l.isEmpty()) for (String s : l.split(",")) log.add(Long.parseLong(s.trim()));
            return new StoreState(Long.parseLong(p.getProperty("generation")), Long.parseLong(p.getProperty("epoch")),
                    p.getProperty("base", ""), List.copyOf(log), Long.parseLong(p.getProperty("fenced", "0")));
        } catch (RuntimeException e) {
            throw new IOException("corrupt " + f + ": " + e.getMessage());
        }
    }

    void write(Path dir) throws IOException {
        StringBuilder sb = new StringBuilder("# checkpointd backup store state; replaced atomically\n");
        sb.append("generation=").append(generation).append('\n').append("epoch=").append(epoch).append('\n')
                .append("base=").append(base).append('\n').append("fenced=").append(fencedGeneration).append('\n')
                .append("log=");
        for (int i = 0; i < log.size(); i++) sb.append(i == 0 ? "" : ",").append(log.get(i));
        sb.append('\n');
        Path tmp = dir.resolve(FILE + ".tmp");
        writeDurably(tmp, sb.toString().getBytes(StandardCharsets.UTF_8));
        try {
            Files.move(tmp, dir.resolve(FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("the store directory " + dir + " does not support atomic rename", e);
        }
        fsyncDir(dir);
    }

    static void writeDurably(Path file, byte[] data) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ch.write(java.nio.ByteBuffer.wrap(data));
            ch.force(true);
        }
    }

    static void fsyncDir(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}
