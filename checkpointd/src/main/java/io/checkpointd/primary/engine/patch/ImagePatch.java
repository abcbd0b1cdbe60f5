package io.checkpointd.primary.engine.patch;

import io.checkpointd.linux.proc.Vma;
import io.checkpointd.linux.ptrace.ThreadState;
import io.checkpointd.linux.track.Ranges;
import io.checkpointd.primary.engine.fds.FdChanges;
import io.checkpointd.primary.engine.state.Base;
import io.checkpointd.protocol.image.CoreImage;
import io.checkpointd.protocol.image.MmImage;
import io.checkpointd.protocol.image.Pagemap;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Image patching: an incremental epoch's image is the base dump's files with {@code core-<tid>.img} and
 * {@code files.img} patched, {@code pagemap-<pid>.img} rebuilt from the present pages, and {@code mm-<pid>.img}
 * rebuilt when anonymous mappings changed. Holds what it parsed of the current base ({@link #rebase}).
 */
public final class ImagePatch {
    private static final int PAGE = Pagemap.PAGE_SIZE;

    /**
     * Per thread, the base dump's parsed {@code core-<tid>.img} and the last one built from it: most threads of a
     * service sit blocked with the same registers epoch after epoch, and re-encoding them all would cost the primary
     * much of its CPU. Cleared by every base dump.
     */
    private final Map<Integer, CoreCache> cores = new HashMap<>();
    private MmPatch mmPatch;
    private FilesImage filesImage;

    private record CoreCache(CoreImage base, ThreadState state, byte[] encoded) {
    }

    /** A new base dump: parses its memory map (when epochs can be incremental) and open files. */
    public void rebase(Base base) throws IOException {
        cores.clear();
        if (base.notIncremental() == null) mmPatch = new MmPatch(MmImage.parse(base.files().get(base.mmName())));
        filesImage = FilesImage.of(base.files());
    }

    /** The base's memory map image, which the stop rebuilds when only anonymous mappings changed. */
    public MmPatch mm() {
        return mmPatch;
    }

    /**
     * The epoch's files: {@code base}'s, with every thread's registers, FPU state and signal mask, the pagemap of
     * {@code nowPresent} cut at the VMAs of {@code vmas}, the rebuilt {@code mm} image (or null: the base's), and
     * the open files' positions and sizes, the fds opened and closed and the epoll registrations ({@code fds}).
     */
    public Map<String, byte[]> files(Base base, List<ThreadState> threads, Map<Integer, OpenFiles.Open> open, FdChanges fds,
                                     long[] nowPresent, byte[] mm, List<Vma> vmas) throws IOException {
        Map<String, byte[]> files = new TreeMap<>(base.files());
        for (ThreadState t : threads) files.put("core-" + t.tid() + ".img", coreImage(base, t));
        files.put(base.pagemapName(), pagemapOf(base.pagesId(), Ranges.splitAt(nowPresent, vmas)));
        if (mm != null) files.put(base.mmName(), mm);
        if (filesImage != null) {
            filesImage.patch(files, open, fds);
        } else if (fds != null && !fds.equals(FdChanges.NONE)) {
            throw new IOException("fds changed but the base dump has no single fdinfo image");
        }
        return files;
    }

    /** {@code core-<tid>.img} of the base dump with {@code t}'s registers, FPU state and signal mask. */
    private byte[] coreImage(Base b, ThreadState t) throws IOException {
        CoreCache c = cores.get(t.tid());
        if (c != null && c.state().sigmask() == t.sigmask() && Arrays.equals(c.state().gpregs(), t.gpregs())
                && Arrays.equals(c.state().xstate(), t.xstate())) {
            return c.encoded();
        }
        CoreImage base = c != null ? c.base() : null;
        if (base == null) {
            byte[] bytes = b.files().get("core-" + t.tid() + ".img");
            if (bytes == null) throw new IOException("no core-" + t.tid() + ".img in the base dump");
            base = CoreImage.parse(bytes);
        }
        byte[] encoded = base.withThreadState(t.gpregs(), t.xstate(), t.sigmask()).encode();
        cores.put(t.tid(), new CoreCache(base, t, encoded));
        return encoded;
    }

    private static byte[] pagemapOf(int pagesId, long[] runs) {
        List<Pagemap.Run> rs = new ArrayList<>(runs.length / 2);
        for (int i = 0; i < runs.length; i += 2) rs.add(new Pagemap.Run(runs[i], (runs[i + 1] - runs[i]) / PAGE, Pagemap.PE_PRESENT, -1));
        return Pagemap.of(pagesId, rs).encode();
    }
}
