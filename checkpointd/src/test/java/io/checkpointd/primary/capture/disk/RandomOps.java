package io.checkpointd.primary.capture.disk;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

/** Test helper: random file-system operations on a small tree (names from a small set, so they collide). */
final class RandomOps {
    final Random random;
    private final Path root;

    RandomOps(Random random, Path root) {
        this.random = random;
        this.root = root;
    }

    void populate() throws IOException {
        for (int i = 0; i < 10; i++) step();
    }

    /** chown needs root; elsewhere owners never change. */
    private static final boolean OWNERS = "root".equals(System.getProperty("user.name"));

    void step() throws IOException {
        List<Path> files = new ArrayList<>(), dirs = new ArrayList<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.toList()) {
                if (Files.isSymbolicLink(p)) files.add(p);
                else if (Files.isDirectory(p)) dirs.add(p);
                else files.add(p);
            }
        }
        Path dir = dirs.get(random.nextInt(dirs.size()));
        Path fresh = dir.resolve(name());
        Path file = files.isEmpty() ? null : files.get(random.nextInt(files.size()));
        Path regular = file != null && Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS) ? file : null;
        switch (random.nextInt(OWNERS ? 14 : 13)) {
            case 0, 1 -> { if (!Files.exists(fresh, LinkOption.NOFOLLOW_LINKS)) Files.write(fresh, bytes(random.nextInt(30_000))); }
            case 2, 3 -> { if (regular != null) write(regular, random.nextInt(40_000), bytes(1 + random.nextInt(9000))); }
            case 4 -> { if (regular != null) resize(regular, random.nextInt(50_000)); }
            case 5 -> { if (file != null && !Files.isDirectory(fresh)) Files.move(file, fresh, StandardCopyOption.REPLACE_EXISTING); }
            case 6 -> { if (file != null) Files.delete(file); }
            case 7 -> { if (!Files.exists(fresh, LinkOption.NOFOLLOW_LINKS)) Files.createDirectory(fresh); }
            case 8 -> moveDir(dirs, fresh);
            case 9 -> { if (!Files.exists(fresh, LinkOption.NOFOLLOW_LINKS)) Files.createSymbolicLink(fresh, Path.of(name() + "/" + name())); }
            case 10 -> { if (regular != null) Files.setAttribute(regular, "unix:mode", random.nextBoolean() ? 0600 : 04755); }
            case 11 -> { // create then delete within the epoch
                if (!Files.exists(fresh, LinkOption.NOFOLLOW_LINKS)) {
                    Files.write(fresh, bytes(100));
                    Files.delete(fresh);
                }
            }
            case 13 -> { // a service running as its own user: its files keep their owner on the backup
                Path p = random.nextBoolean() && file != null ? file : regular;
                if (p != null) {
                    int[] ids = {0, 1000, 65534};
                    Files.setAttribute(p, "unix:uid", ids[random.nextInt(3)], LinkOption.NOFOLLOW_LINKS);
                    Files.setAttribute(p, "unix:gid", ids[random.nextInt(3)], LinkOption.NOFOLLOW_LINKS);
                }
            }
            default -> removeTree(dirs);
        }
    }

    private void moveDir(List<Path> dirs, Path fresh) throws IOException {
        if (dirs.size() < 2 || Files.exists(fresh, LinkOption.NOFOLLOW_LINKS)) return;
        Path d = dirs.get(1 + random.nextInt(dirs.size() - 1));
        if (fresh.startsWith(d)) return; // into itself
        Files.move(d, fresh);
    }

    private void removeTree(List<Path> dirs) throws IOException {
        if (dirs.size() < 2 || random.nextInt(3) != 0) return;
        Path d = dirs.get(1 + random.nextInt(dirs.size() - 1));
        List<Path> all;
        try (Stream<Path> s = Files.walk(d)) {
            all = s.toList();
        }
        for (int i = all.size() - 1; i >= 0; i--) Files.delete(all.get(i));
    }

    private String name() {
        return "n" + random.nextInt(8);
    }

    private byte[] bytes(int n) {
        byte[] b = new byte[n];
        if (random.nextInt(4) > 0) random.nextBytes(b); // sometimes zeros
        return b;
    }

    private static void write(Path f, long off, byte[] data) throws IOException {
        try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
            r.seek(off);
            r.write(data);
        }
    }

    private static void resize(Path f, long size) throws IOException {
        try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
            r.setLength(size);
        }
    }
}
