package io.checkpointd.protocol.image;

import io.checkpointd.protocol.image.criu.Pstree.pstree_entry;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * CRIU's {@code pstree.img} (images/pstree.proto, MIT): one {@code pstree_entry} per process with its pid, ppid,
 * pgid, sid and the tids of its {@code threads}, in the order CRIU found them in {@code /proc/PID/task}. The engine
 * rewrites a process's threads list when threads started or ended since the base dump. Immutable.
 */
public final class PstreeImage {
    public static final int PSTREE_MAGIC = 0x50273030;

    private final ImageFile file;
    private final List<pstree_entry> entries;

    private PstreeImage(ImageFile file, List<pstree_entry> entries) {
        this.file = file;
        this.entries = entries;
    }

    public static PstreeImage parse(byte[] image) throws IOException {
        ImageFile file = ImageFile.parse(image, PSTREE_MAGIC);
        List<pstree_entry> entries = new ArrayList<>(file.entryCount());
        for (int i = 0; i < file.entryCount(); i++) entries.add(file.message(i, pstree_entry.parser()));
        return new PstreeImage(file, List.copyOf(entries));
    }

    /** The pids of the processes, in image order. */
    public List<Integer> pids() {
        List<Integer> pids = new ArrayList<>(entries.size());
        for (pstree_entry e : entries) pids.add(e.getPid());
        return List.copyOf(pids);
    }

    /** The threads of process {@code pid}, in image order. */
    public List<Integer> threads(int pid) throws IOException {
        for (pstree_entry e : entries) if (e.getPid() == pid) return List.copyOf(e.getThreadsList());
        throw new IOException("no process " + pid + " in pstree.img");
    }

    /** This image with process {@code pid}'s threads replaced by {@code tids} (in that order). */
    public PstreeImage withThreads(int pid, List<Integer> tids) throws IOException {
        if (tids.isEmpty()) throw new IllegalArgumentException("pid " + pid + " without threads");
        List<pstree_entry> out = new ArrayList<>(entries.size());
        boolean found = false;
        for (pstree_entry e : entries) {
            if (e.getPid() == pid) {
                e = e.toBuilder().clearThreads().addAllThreads(tids).build();
                found = true;
            }
            out.add(e);
        }
        if (!found) throw new IOException("no process " + pid + " in pstree.img");
        return new PstreeImage(file.withMessages(out), List.copyOf(out));
    }

    public byte[] encode() {
        return file.encode();
    }
}
