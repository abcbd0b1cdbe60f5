package io.checkpointd.primary.engine.threads;

import io.checkpointd.linux.ptrace.Tracer;
import io.checkpointd.primary.engine.EngineSettings;
import java.util.List;

/** At a stop, before the seal: whether the threads that started or ended since the base can be captured. */
public final class ThreadCheck {
    /** {@link EngineSettings#threadsByCriu()}, read once. */
    private static final boolean BY_CRIU = EngineSettings.threadsByCriu();

    private ThreadCheck() {
    }

    /**
     * Why the threads of stop {@code sp} of {@code pid} need a CRIU dump, or null: a thread other than the leader
     * dying in the stop (listed, no registers: its exit is a moment away, the stop is retried), or a thread born
     * since the base that {@code model} cannot build a core for.
     */
    public static String why(int pid, Tracer.Stop sp, ThreadModel model) {
        for (int tid : sp.dyingTids()) {
            if (tid != pid) return "thread exiting (tid " + tid + ")";
        }
        if (model == null) return "threads changed (no thread model)";
        if (BY_CRIU && (!sp.bornTids().isEmpty() || !List.copyOf(new java.util.TreeSet<>(model.baseThreads())).equals(sp.tids()))) {
            return "threads changed (" + EngineSettings.THREADS_BY_CRIU_KEY + ")";
        }
        if (model.why() != null && !sp.bornTids().isEmpty()) return "thread not modelled (" + model.why() + ")";
        return null;
    }
}
