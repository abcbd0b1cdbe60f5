package io.checkpointd.protocol.image;

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
    private static final int PID = 1, THREADS = 5;

    private final ImageFile file;

    private PstreeImage(ImageFile file) {
        this.file = file;
    }

    public static PstreeImage parse(byte[] image) throws IOException {
        return new PstreeImage(ImageFile.parse(image, PSTREE_MAGIC));
    }

    /** The threads of process {@code pid}, in image order. */
    public List<Integer> threads(int pid) throws IOException {
        ProtoMessage e = entry(pid);
        List<Integer> out = new ArrayList<>();
        for (long t : e.repeatedVarints(THREADS)) out.add((int) t);
        return out;
    }

    /** This image with process {@code pid}'s threads replaced by {@code tids} (in that order). */
    public PstreeImage withThreads(int pid, List<Integer> tids) throws IOException {
        if (tids.isEmpty()) throw new IllegalArgumentException("pid " + pid + " without threads");
        List<byte[]> entries = new ArrayList<>(file.entryCount());
        boolean found = false;
        for (int i = 0; i < file.entryCount(); i++) {
            ProtoMessage m = file.message(i);
            if (m.varint(PID) == pid) {
                long[] v = new long[tids.size()];
                for (int k = 0; k < v.length; k++) v[k] = tids.get(k);
                m.setRepeatedVarints(THREADS, v);
                found = true;
            }
            entries.add(m.encode());
        }
        if (!found) throw new IOException("no process " + pid + " in pstree.img");
        return new PstreeImage(file.withEntries(entries));
    }

    public byte[] encode() {
        return file.encode();
    }

    private ProtoMessage entry(int pid) throws IOException {
        for (int i = 0; i < file.entryCount(); i++) {
            ProtoMessage m = file.message(i);
            if (m.varint(PID) == pid) return m;
        }
        throw new IOException("no process " + pid + " in pstree.img");
    }
}
