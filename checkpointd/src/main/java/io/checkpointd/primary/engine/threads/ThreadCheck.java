package io.checkpointd.primary.engine.threads;

import io.checkpointd.linux.ptrace.Tracer;

/** At a stop, before the seal: whether the threads that started or ended since the base can be captured. */
public final class ThreadCheck {
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
        if (model.why() != null && !sp.bornTids().isEmpty()) return "thread not modelled (" + model.why() + ")";
        return null;
    }
}
