package io.checkpointd.primary.engine.state;

import io.checkpointd.linux.proc.ProcFiles;
import io.checkpointd.linux.proc.Vma;
import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * What the incremental engine does not capture itself and takes from CRIU's last dump: the memory map, the signal
 * dispositions, the working directory; and the open files (by fd number and target) and threads, which
 * {@link io.checkpointd.primary.engine.fds.FdReader} and the thread capture compare and capture where they can. Read
 * each epoch with every thread stopped; any other difference from the base dump's makes the epoch a CRIU dump.
 *
 * <p>File positions and sizes of open regular files change without a structural change (a service appending to its
 * log); they are captured each epoch ({@link io.checkpointd.primary.engine.patch.OpenFiles}) and patched into the image, not compared here.
 */
public record Structure(List<Integer> tids, Map<Integer, String> fds, List<Vma> maps, String signals, String cwd) {

    /** Reads the structure of {@code pid} with these threads and memory map. */
    public static Structure read(int pid, List<Integer> tids, List<Vma> maps) throws IOException {
        // plain system calls (ProcFiles): read in every pause, where java.nio.file costs several times the kernel's work
        Map<Integer, String> fds = ProcFiles.fds(pid);
        String signals = "";
        byte[] status = ProcFiles.readSingle("/proc/" + pid + "/status");
        for (String key : new String[] {"SigIgn:", "SigCgt:"}) {
            String v = ProcFiles.field(status, key);
            if (v != null) signals += v + "/";
        }
        String cwd = ProcFiles.readlink("/proc/" + pid + "/cwd");
        return new Structure(List.copyOf(tids), Map.copyOf(fds), List.copyOf(maps), signals, cwd);
    }

    /**
     * Why {@code now} differs from this (the base) in a way only a CRIU dump captures, or null. Threads that started
     * or ended are the engine's ({@code primary.engine.threads}), not compared here. Private anonymous
     * mappings and the brk heap may come, go, grow, shrink and change protection: the engine rebuilds their part of
     * {@code mm.img} itself ({@link io.checkpointd.primary.engine.patch.MmPatch}). Any other change (a file mapped,
     * unmapped or re-protected, the main stack grown) is a CRIU dump, counted as "memory map changed".
     */
    public String changeTo(Structure now) {
        if (!sameFixed(maps, now.maps)) return "memory map changed (" + firstDifference(fixed(maps), fixed(now.maps)) + ")";
        if (!signals.equals(now.signals)) return "signal dispositions changed";
        if (!cwd.equals(now.cwd)) return "working directory changed";
        return null;
    }

    /** Whether the private anonymous mappings or the brk heap differ (then the epoch's {@code mm.img} is rebuilt). */
    public boolean anonymousChanged(Structure now) {
        return !maps.equals(now.maps);
    }

    /** A private anonymous mapping the engine handles itself: no file, not the brk heap or the main stack. */
    public static boolean isAnonymousPrivate(Vma v) {
        return v.isPrivate() && v.inode() == 0 && v.path().isEmpty();
    }

    /**
     * The brk heap ({@code [heap]}; the kernel may show it as several VMAs when only part of it is registered with
     * userfaultfd): malloc's main arena grows and shrinks it with {@code brk}, which a JVM starting and ending threads
     * reaches once its per-thread arenas run out.
     */
    public static boolean isBrkHeap(Vma v) {
        return v.isPrivate() && v.inode() == 0 && v.path().equals("[heap]");
    }

    /** A mapping whose changes the engine writes into {@code mm.img} itself: private anonymous, or the brk heap. */
    public static boolean isEngineMapped(Vma v) {
        return isAnonymousPrivate(v) || isBrkHeap(v);
    }

    private static String firstDifference(List<Vma> a, List<Vma> b) {
        java.util.Set<Vma> gone = new java.util.LinkedHashSet<>(a);
        b.forEach(gone::remove);
        java.util.Set<Vma> added = new java.util.LinkedHashSet<>(b);
        a.forEach(added::remove);
        return (gone.isEmpty() ? "" : "gone " + gone.iterator().next() + " ") + (added.isEmpty() ? "" : "new " + added.iterator().next());
    }

    /** Whether {@code a} and {@code b} have the same mappings other than the engine's own (in every pause: no copies). */
    private static boolean sameFixed(List<Vma> a, List<Vma> b) {
        int i = 0, j = 0;
        while (true) {
            while (i < a.size() && isEngineMapped(a.get(i))) i++;
            while (j < b.size() && isEngineMapped(b.get(j))) j++;
            if (i == a.size() || j == b.size()) return i == a.size() && j == b.size();
            if (!a.get(i++).equals(b.get(j++))) return false;
        }
    }

    private static List<Vma> fixed(List<Vma> maps) {
        return maps.stream().filter(v -> !isEngineMapped(v)).toList();
    }

    /** The reason's category, for counting in status. */
    public static String kind(String why) {
        int i = why.indexOf(" (");
        return i < 0 ? why : why.substring(0, i);
    }
}
