package io.checkpointd.cli;

import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.systemd.SdNotify;
import java.io.PrintWriter;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * A daemon's word to systemd when a {@code Type=notify} unit started it ({@code $NOTIFY_SOCKET} set): READY=1 once
 * it listens, a STATUS= line whenever its one-line summary changes (checked every second), STOPPING=1 when the
 * JVM begins to shut down (its shutdown hook) or the daemon returns, whichever comes first.
 * Without {@code $NOTIFY_SOCKET} every call does nothing. A failed send is reported once on stderr and not fatal:
 * systemd then times the unit out, which says more than a daemon that refuses to run.
 */
final class Readiness implements AutoCloseable {
    private final Optional<SdNotify> notify;
    private final PrintWriter err;
    private volatile ScheduledExecutorService poller;
    private String lastStatus;
    private boolean warned;
    private final AtomicBoolean closed = new AtomicBoolean();

    private Readiness(Optional<SdNotify> notify, PrintWriter err) {
        this.notify = notify;
        this.err = err;
    }

    /** From {@code $NOTIFY_SOCKET}; a malformed value is a usage error. */
    static Readiness fromEnvironment(PrintWriter err) throws UsageException {
        try {
            return new Readiness(SdNotify.fromEnvironment(), err);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
    }

    /** READY=1 with {@code status}, then STATUS= whenever {@code summary} says something new. */
    void ready(String status, Supplier<String> summary) {
        if (notify.isEmpty()) return;
        send(n -> n.ready(status));
        synchronized (this) {
            lastStatus = status;
        }
        poller = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "sd-notify-status");
            t.setDaemon(true);
            return t;
        });
        // SIGTERM (systemctl stop) runs the shutdown hooks while the main thread may never get further
        Runtime.getRuntime().addShutdownHook(new Thread(this::close, "sd-notify-stopping"));
        poller.scheduleWithFixedDelay(() -> {
            String s = summary.get();
            synchronized (this) {
                if (s == null || s.equals(lastStatus)) return;
                lastStatus = s;
            }
            send(n -> n.status(s));
        }, 1, 1, TimeUnit.SECONDS);
    }

    /** STOPPING=1 (once); stops the status updates. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) return;
        if (poller != null) poller.shutdownNow();
        if (notify.isPresent()) send(n -> n.stopping("stopping"));
    }

    private interface Send {
        void to(SdNotify n) throws SyscallException;
    }

    private void send(Send s) {
        try {
            s.to(notify.get());
        } catch (SyscallException e) {
            synchronized (this) {
                if (warned) return;
                warned = true;
            }
            err.println("checkpointd: cannot notify systemd at " + notify.get().socketName() + ": " + e.getMessage());
            err.flush();
        }
    }
}
