package io.checkpointd.primary.engine.threads;

import io.checkpointd.linux.ptrace.ThreadState;
import io.checkpointd.protocol.image.PstreeImage;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * An incremental epoch's thread images: {@code core-<tid>.img} of every stopped thread (a base thread's from its
 * base core, a born one's from the {@link ThreadModel}'s template), the cores of base threads that exited removed,
 * and {@code pstree.img}'s threads list: the base threads still there in base order (the leader always: a zombie
 * leader keeps its base core), then the born ones in tid order. Holds the last core built per thread: most threads
 * of a service sit blocked with the same registers epoch after epoch, and re-encoding them all would cost the
 * primary much of its CPU. Made anew by every base dump.
 */
public final class ThreadCores {
    private final ThreadModel model;
    private final Map<Integer, Built> built = new HashMap<>();

    private record Built(ThreadState state, byte[] encoded) {
    }

    public ThreadCores(ThreadModel model) {
        this.model = model;
    }

    public ThreadModel model() {
        return model;
    }

    /** Puts the cores of {@code threads} into {@code files} (the base's, by name), and the threads list. */
    public void patch(Map<String, byte[]> files, List<ThreadState> threads) throws IOException {
        Set<Integer> alive = new LinkedHashSet<>();
        List<Integer> born = new ArrayList<>();
        for (ThreadState t : threads) {
            files.put(coreName(t.tid()), core(t));
            if (t.born()) born.add(t.tid());
            else alive.add(t.tid());
        }
        List<Integer> list = new ArrayList<>();
        for (int tid : model.baseThreads()) {
            if (alive.contains(tid) || tid == model.pid()) list.add(tid);
            else if (!born.contains(tid)) files.remove(coreName(tid)); // exited (a born thread may have its tid)
        }
        born.sort(null);
        list.addAll(born);
        if (!list.equals(model.baseThreads())) {
            files.put("pstree.img", PstreeImage.parse(files.get("pstree.img")).withThreads(model.pid(), list).encode());
        }
        built.keySet().retainAll(union(alive, born));
    }

    private byte[] core(ThreadState t) {
        Built b = built.get(t.tid());
        if (b != null && b.state().born() == t.born() && b.state().sameCpuState(t) && Objects.equals(b.state().attributes(), t.attributes())) {
            return b.encoded();
        }
        byte[] encoded = model.core(t).encode();
        built.put(t.tid(), new Built(t, encoded));
        return encoded;
    }

    private static Set<Integer> union(Set<Integer> a, List<Integer> b) {
        Set<Integer> u = new java.util.HashSet<>(a);
        u.addAll(b);
        return u;
    }

    static String coreName(int tid) {
        return "core-" + tid + ".img";
    }
}
