package io.checkpointd.primary.engine.patch;

import io.checkpointd.linux.proc.Vma;
import io.checkpointd.linux.ptrace.ThreadState;
import io.checkpointd.linux.track.Ranges;
import io.checkpointd.primary.engine.fds.FdChanges;
import io.checkpointd.primary.engine.state.Base;
import io.checkpointd.primary.engine.threads.ThreadCores;
import io.checkpointd.primary.engine.threads.ThreadModel;
import io.checkpointd.protocol.image.MmImage;
import io.checkpointd.protocol.image.Pagemap;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Image patching: an incremental epoch's image is the base dump's files with {@code core-<tid>.img} (of threads
 * born since the base too), {@code pstree.img} ({@link ThreadCores}) and {@code files.img} patched,
 * {@code pagemap-<pid>.img} rebuilt from the present pages, and {@code mm-<pid>.img} rebuilt when anonymous
 * mappings changed. Holds what it parsed of the current base ({@link #rebase}).
 */
public final class ImagePatch {
    private static final Logger log = LoggerFactory.getLogger(ImagePatch.class);
    private static final int PAGE = Pagemap.PAGE_SIZE;

    /** The threads' cores and the process tree, of the current base. */
    private ThreadCores threadCores;
    private MmPatch mmPatch;
    private FilesImage filesImage;
    /** The last pagemap built, of {@code pagemapRuns} in pages image {@code pagemapId}: reused while they stay. */
    private byte[] pagemap;
    private long[] pagemapRuns;
    private int pagemapId;

    /** A new base dump: parses its memory map (when epochs can be incremental) and open files. */
    public void rebase(Base base) throws IOException {
        threadCores = null;
        pagemap = null;
        if (base.notIncremental() == null) {
            mmPatch = new MmPatch(MmImage.parse(base.files().get(base.mmName())));
            ThreadModel m = ThreadModel.of(pidOf(base.mmName()), base.files());
            threadCores = new ThreadCores(m);
            if (m.why() == null) log.info("threads born since this base get cores from a base thread's, clear_tid_addr = fs_base + 0x{}",
                    Long.toHexString(m.clearTidOffset()));
            else log.warn("a thread born since this base makes the epoch a CRIU dump: {}", m.why());
        }
        filesImage = FilesImage.of(base.files());
    }

    /** What the base's cores teach about threads born since (null when epochs are not incremental). */
    public ThreadModel threads() {
        return threadCores == null ? null : threadCores.model();
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
        threadCores.patch(files, threads);
        long[] runs = Ranges.splitAt(nowPresent, vmas);
        // the present pages rarely change between two small epochs: encoding thousands of runs again cost ~1 ms
        if (pagemap == null || pagemapId != base.pagesId() || !Arrays.equals(runs, pagemapRuns)) {
            pagemap = pagemapOf(base.pagesId(), runs);
            pagemapId = base.pagesId();
            pagemapRuns = runs;
        }
        files.put(base.pagemapName(), pagemap);
        if (mm != null) files.put(base.mmName(), mm);
        if (filesImage != null) {
            filesImage.patch(files, open, fds);
        } else if (fds != null && !fds.withStreams(null).equals(FdChanges.NONE)) {
            throw new IOException("fds changed but the base dump has no single fdinfo image");
        }
        return files;
    }

    /** The pid of {@code mm-<pid>.img}. */
    private static int pidOf(String mmName) {
        return Integer.parseInt(mmName.substring(3, mmName.length() - 4));
    }

    private static byte[] pagemapOf(int pagesId, long[] runs) {
        List<Pagemap.Run> rs = new ArrayList<>(runs.length / 2);
        for (int i = 0; i < runs.length; i += 2) rs.add(new Pagemap.Run(runs[i], (runs[i + 1] - runs[i]) / PAGE, Pagemap.PE_PRESENT, -1));
        return Pagemap.of(pagesId, rs).encode();
    }
}
