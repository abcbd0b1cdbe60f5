package io.checkpointd.primary.engine.patch;

import io.checkpointd.linux.proc.Vma;
import io.checkpointd.primary.engine.state.Structure;
import io.checkpointd.protocol.image.MmImage;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

/**
 * Rebuilds the VMA list of the base dump's {@code mm-<pid>.img} for the process's current memory map when only
 * private anonymous mappings changed (a malloc arena grew, the collector committed or uncommitted heap, a buffer
 * was mapped or unmapped): every other VMA keeps CRIU's entry as dumped (matched by its range; the caller has
 * checked they are unchanged), each anonymous one gets the entry of the base VMA it overlaps (or of any anonymous
 * one) with its new range and protection. The madvise flags of a new mapping come from that template: CRIU reads
 * them from {@code smaps}, too costly to read in every pause; they tune the kernel (huge pages, dump, fork), not
 * what the restored process reads.
 *
 * <p>The brk heap ({@code [heap]}) is rebuilt the same way, from the base's heap entry (or CRIU's heap status on an
 * anonymous one when the base had no heap yet), and {@code mm_brk} becomes the heap's end: CRIU reads the exact break
 * with {@code brk(0)} inside the process, which a stop cannot do; the break rounded up to its page is restored to the
 * same behaviour, since the kernel treats a break within the last page as the same heap and glibc keeps its own
 * copy of the break in memory.
 */
public final class MmPatch {
    /** {@code MAP_PRIVATE | MAP_ANONYMOUS}: the flags CRIU records for the brk heap. */
    private static final long HEAP_FLAGS = 0x22;

    private final MmImage base;
    private final Map<Long, MmImage.Vma> byRange = new HashMap<>();
    private final List<MmImage.Vma> anonymous = new ArrayList<>();
    /** The base's [heap] entries (none if the process had not yet called brk). */
    private final List<MmImage.Vma> heap = new ArrayList<>();
    /** [vdso] and [vvar]: CRIU records them its own way (not always as /proc/PID/maps shows them); kept as dumped. */
    private final List<MmImage.Vma> special = new ArrayList<>();

    public MmPatch(MmImage base) {
        this.base = base;
        for (MmImage.Vma v : base.vmas()) {
            byRange.put(v.start(), v);
            if ((v.status() & (MmImage.VMA_AREA_VDSO | MmImage.VMA_AREA_VVAR)) != 0) special.add(v);
            if ((v.status() & (MmImage.VMA_ANON_PRIVATE | MmImage.VMA_AREA_REGULAR)) == (MmImage.VMA_ANON_PRIVATE | MmImage.VMA_AREA_REGULAR)
                    && (v.status() & ~(MmImage.VMA_ANON_PRIVATE | MmImage.VMA_AREA_REGULAR)) == 0) {
                anonymous.add(v);
            }
            if ((v.status() & MmImage.VMA_AREA_HEAP) != 0) heap.add(v);
        }
    }

    /** The base image with {@code maps}' VMA list; throws if a mapping that is not anonymous has no base entry. */
    public byte[] patch(List<Vma> maps) throws IOException {
        // a JVM's map is mostly the same from one epoch to the next: the image is rebuilt only when it changed
        if (maps.equals(lastMaps)) return lastImage;
        byte[] image = build(maps);
        lastMaps = List.copyOf(maps);
        lastImage = image;
        return image;
    }

    /** The maps of the last {@link #patch} and its image (never changed by the callers). */
    private List<Vma> lastMaps;
    private byte[] lastImage;

    private byte[] build(List<Vma> maps) throws IOException {
        List<MmImage.Vma> out = new ArrayList<>(special);
        long heapEnd = -1;
        for (Vma v : maps) {
            if (v.isSpecial()) continue; // [vsyscall] is above the task size; [vdso]/[vvar] never move
            if (Structure.isBrkHeap(v)) {
                out.add(heapVma(v));
                heapEnd = Math.max(heapEnd, v.end());
                continue;
            }
            if (!Structure.isAnonymousPrivate(v)) {
                MmImage.Vma same = byRange.get(v.start());
                if (same == null || same.start() != v.start() || same.end() != v.end()) {
                    throw new IOException("no base VMA for " + v);
                }
                out.add(same);
                continue;
            }
            MmImage.Vma t = template(v);
            if (t == null) throw new IOException("no anonymous VMA in the base dump to model " + v + " on");
            out.add(new MmImage.Vma(v.start(), v.end(), t.pgoff(), t.shmid(), prot(v), t.flags(), t.status(), t.fd(), t.madv(), t.fdflags()));
        }
        out.sort(java.util.Comparator.comparingLong(MmImage.Vma::start));
        MmImage image = base.withVmas(out);
        long baseHeapEnd = heap.stream().mapToLong(MmImage.Vma::end).max().orElse(-1);
        if (heapEnd != baseHeapEnd) image = image.withBrk(heapEnd < 0 ? base.startBrk() : heapEnd); // else the exact break CRIU read
        return image.encode();
    }

    /** A [heap] VMA's entry: the base's heap entry (else CRIU's heap status on an anonymous one) with this range and protection. */
    private MmImage.Vma heapVma(Vma v) throws IOException {
        MmImage.Vma t = heap.isEmpty() ? null : heap.get(0);
        long status = t != null ? t.status() : MmImage.VMA_AREA_REGULAR | MmImage.VMA_ANON_PRIVATE | MmImage.VMA_AREA_HEAP;
        if (t == null) t = anonymous.isEmpty() ? null : anonymous.get(0);
        if (t == null) throw new IOException("no anonymous VMA in the base dump to model " + v + " on");
        return new MmImage.Vma(v.start(), v.end(), 0, t.shmid(), prot(v), HEAP_FLAGS, status, t.fd(), heap.isEmpty() ? OptionalLong.empty() : t.madv(),
                t.fdflags());
    }

    private static long prot(Vma v) {
        return (v.isReadable() ? 1 : 0) | (v.isWritable() ? 2 : 0) | (v.isExecutable() ? 4 : 0);
    }

    /** The base's anonymous VMA overlapping {@code v} with the same protection, else any overlapping, else the first. */
    private MmImage.Vma template(Vma v) {
        MmImage.Vma overlapping = null;
        for (MmImage.Vma a : anonymous) {
            if (a.start() < v.end() && v.start() < a.end()) {
                boolean sameProt = ((a.prot() & 2) != 0) == v.isWritable() && ((a.prot() & 1) != 0) == v.isReadable();
                if (sameProt) return a;
                if (overlapping == null) overlapping = a;
            }
        }
        return overlapping != null ? overlapping : anonymous.isEmpty() ? null : anonymous.get(0);
    }
}
