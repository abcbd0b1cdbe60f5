package io.checkpointd.bench;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.locks.LockSupport;

/**
 * How often the <em>structure</em> of a running process changes: samples {@code /proc/PID/maps} (every VMA's
 * range, permissions and path), {@code /proc/PID/task} (thread ids) and {@code /proc/PID/fd} (fd number and
 * link target) every {@code period} and counts the sampling intervals ("epochs") in which each changed. These
 * are what a per-epoch register capture would miss and what a structural CRIU dump would have to refresh.
 */
public final class StructureSampler {
    /** Counts over one sampling run. */
    public record Result(String name, int epochs, int anyChange, int mapsChange, int writableMapsChange,
            int threadsChange, int fdsChange, int vmasFirst, int vmasLast, int threadsFirst, int threadsLast,
            int fdsFirst, int fdsLast, double seconds, int mapsChangeAnonOnly, int threadsOrFdsChange,
            List<String> examples) {
        public String line() {
            return String.format(Locale.ROOT, "%s: %d epochs of %.0f ms in %.1f s: any change %d (%.1f%%), maps %d"
                            + " (writable-private %d), threads %d, fds %d; VMAs %d->%d, threads %d->%d, fds %d->%d",
                    name, epochs, seconds * 1000 / Math.max(1, epochs), seconds, anyChange, 100.0 * anyChange / Math.max(1, epochs),
                    mapsChange, writableMapsChange, threadsChange, fdsChange, vmasFirst, vmasLast, threadsFirst,
                    threadsLast, fdsFirst, fdsLast) + String.format(Locale.ROOT,
                    "; maps changes touching only anonymous VMAs %d; threads or fds %d; examples %s", mapsChangeAnonOnly,
                    threadsOrFdsChange, examples);
        }
    }

    private record Snapshot(List<String> maps, List<String> writableMaps, TreeSet<Integer> tids,
            TreeMap<Integer, String> fds) {
    }

    private StructureSampler() {
    }

    /** Samples {@code pid} every {@code periodMs} for {@code seconds}. */
    public static Result sample(String name, int pid, int periodMs, double seconds) throws IOException {
        long period = periodMs * 1_000_000L;
        long start = System.nanoTime();
        long end = start + (long) (seconds * 1e9);
        Snapshot first = snapshot(pid), prev = first;
        int epochs = 0, any = 0, maps = 0, wmaps = 0, threads = 0, fds = 0, anonOnly = 0, tf = 0;
        List<String> examples = new ArrayList<>();
        long next = start;
        while (true) {
            next += period;
            long wait = next - System.nanoTime();
            if (wait > 0) LockSupport.parkNanos(wait);
            if (System.nanoTime() - end > 0) break;
            Snapshot s = snapshot(pid);
            epochs++;
            boolean m = !s.maps.equals(prev.maps), w = !s.writableMaps.equals(prev.writableMaps),
                    t = !s.tids.equals(prev.tids), f = !s.fds.equals(prev.fds);
            if (m) {
                maps++;
                List<String> gone = new ArrayList<>(prev.maps), added = new ArrayList<>(s.maps);
                gone.removeAll(s.maps);
                added.removeAll(prev.maps);
                boolean anon = true;
                for (String l : gone) anon &= isAnon(l);
                for (String l : added) anon &= isAnon(l);
                if (anon) anonOnly++;
                if (examples.size() < 4) examples.add("- " + gone + " + " + added);
            }
            if (t || f) tf++;
            if (w) wmaps++;
            if (t) threads++;
            if (f) fds++;
            if (m || t || f) any++;
            prev = s;
        }
        return new Result(name, epochs, any, maps, wmaps, threads, fds, first.maps.size(), prev.maps.size(),
                first.tids.size(), prev.tids.size(), first.fds.size(), prev.fds.size(), (System.nanoTime() - start) / 1e9,
                anonOnly, tf, examples);
    }

    /** A maps key ("range perms path") of anonymous memory: no path, or a kernel-named anonymous region. */
    private static boolean isAnon(String key) {
        String[] f = key.split(" ", 3);
        String path = f.length > 2 ? f[2].trim() : "";
        return path.isEmpty() || path.equals("[heap]") || path.equals("[stack]") || path.startsWith("[anon:");
    }

    private static Snapshot snapshot(int pid) throws IOException {
        Path dir = Path.of("/proc", Integer.toString(pid));
        List<String> maps = new ArrayList<>(), writable = new ArrayList<>();
        for (String line : Files.readAllLines(dir.resolve("maps"))) {
            if (line.isBlank()) continue;
            String[] f = line.trim().split("\\s+", 6);
            String key = f[0] + " " + f[1] + " " + (f.length > 5 ? f[5] : "");
            maps.add(key);
            if (f[1].charAt(1) == 'w' && f[1].charAt(3) == 'p') writable.add(key);
        }
        TreeSet<Integer> tids = new TreeSet<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir.resolve("task"))) {
            for (Path p : ds) tids.add(Integer.parseInt(p.getFileName().toString()));
        }
        TreeMap<Integer, String> fds = new TreeMap<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir.resolve("fd"))) {
            for (Path p : ds) {
                try {
                    fds.put(Integer.parseInt(p.getFileName().toString()), Files.readSymbolicLink(p).toString());
                } catch (NoSuchFileException e) {
                    // closed between the listing and the readlink: a change the next sample sees
                }
            }
        }
        return new Snapshot(maps, writable, tids, fds);
    }
}
