package io.checkpointd.restore.failover;

import io.checkpointd.linux.criu.Criu;
import io.checkpointd.linux.criu.CriuUnavailableException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * CRIU found, its library loaded and its patches asked about while the backup waits, not when a failover needs it:
 * {@code criu --version}, loading libcriu and {@code criu check --feature uffd-parent-pages} (a kerndat probe of its
 * own, as this host keeps no kerndat cache) took about 150 ms of a failover.
 */
public final class PreparedCriu {
    private static final Logger log = LoggerFactory.getLogger(PreparedCriu.class);
    private static CompletableFuture<Criu> ready;

    private PreparedCriu() {
    }

    /** Starts preparing CRIU on a thread of its own (once per JVM; a host without CRIU learns it at failover). */
    public static synchronized void warm() {
        if (ready != null) return;
        CompletableFuture<Criu> f = new CompletableFuture<>();
        ready = f;
        Thread t = new Thread(() -> {
            try {
                Criu c = Criu.locate();
                c.canServeLazyParentPages();
                f.complete(c);
            } catch (CriuUnavailableException | RuntimeException e) {
                f.completeExceptionally(e);
            }
        }, "criu-prepare");
        t.setDaemon(true);
        t.start();
    }

    /** The prepared CRIU (waiting for it if it is still being prepared), else one located now. */
    static Criu get() throws CriuUnavailableException {
        CompletableFuture<Criu> f;
        synchronized (PreparedCriu.class) {
            f = ready;
        }
        if (f != null) {
            try {
                return f.join();
            } catch (CompletionException e) {
                log.debug("failover: CRIU was not prepared ahead ({}): locating it now", e.getCause().toString());
            }
        }
        return Criu.locate();
    }
}
