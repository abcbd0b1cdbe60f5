package io.checkpointd.bench;

import java.util.ArrayList;
import java.util.List;

/**
 * What a harness's shutdown hook must end if the run is interrupted (Ctrl-C): the services and clusters open at the
 * moment, closed last-opened first. Each harness keeps one.
 */
final class Cleanup {
    private final String who;
    private final List<AutoCloseable> open = new ArrayList<>();

    Cleanup(String who) {
        this.who = who;
    }

    /** Registers {@link #closeAll} as a shutdown hook. */
    void installHook() {
        Runtime.getRuntime().addShutdownHook(new Thread(this::closeAll, "bench-cleanup"));
    }

    synchronized void add(AutoCloseable c) {
        open.add(c);
    }

    /** Forgets everything registered (the run closed it itself). */
    synchronized void clear() {
        open.clear();
    }

    /** Closes everything registered, newest first; reports failures on stderr. */
    void closeAll() {
        List<AutoCloseable> cs;
        synchronized (this) {
            cs = new ArrayList<>(open);
            open.clear();
        }
        for (int i = cs.size() - 1; i >= 0; i--) {
            try {
                cs.get(i).close();
            } catch (Exception e) {
                System.err.println(who + ": cleanup: " + e);
            }
        }
    }
}
