package io.checkpointd.linux.uffd;

import com.sun.jna.Memory;
import io.checkpointd.linux.ProcessMemory.RemoteRange;
import io.checkpointd.linux.SyscallException;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ranges a process dropped from its registered memory without writing them: {@code UFFD_EVENT_REMOVE}
 * ({@code madvise(MADV_DONTNEED)}, {@code MADV_FREE}, {@code MADV_REMOVE}). With these, the pages present in a
 * tracked range follow from the previous epoch's, the removed ranges and the written pages, with no rescan of the
 * whole range.
 *
 * <p>The kernel makes the thread that caused an event wait until the message is read, so a reader thread reads
 * as soon as one is queued: a {@code madvise} in the target costs it one wake-up of this thread. {@link #take()}
 * reads under the same lock, so with the target stopped, every event that happened is in its result.
 */
final class RemovalEvents implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RemovalEvents.class);
    private static final long PAGE = 4096;
    private static final int POLL_MILLIS = 50;

    private final int pid;
    private final Userfaultfd uffd;
    private final Thread reader;
    private final Memory buf = new Memory(64L * Userfaultfd.MSG_SIZE);
    private final List<Userfaultfd.Message> scratch = new ArrayList<>();
    private List<RemoteRange> removed = new ArrayList<>();
    private long removeEvents, otherEvents;
    private volatile boolean closed;

    RemovalEvents(int pid, Userfaultfd uffd) {
        this.pid = pid;
        this.uffd = uffd;
        this.reader = new Thread(this::run, "uffd-events-" + pid);
        reader.setDaemon(true);
        reader.start();
    }

    private void run() {
        Memory pollfd = new Memory(8);
        int failures = 0;
        while (!closed) {
            try {
                if (uffd.awaitMessage(pollfd, POLL_MILLIS)) {
                    synchronized (this) {
                        if (!closed) drain();
                    }
                }
                failures = 0;
            } catch (SyscallException | RuntimeException e) {
                // the target's madvise calls wait until their messages are read: never give up
                if (failures++ % 1000 == 0) LOG.error("pid {}: reading userfaultfd events: {}", pid, e.getMessage());
                try {
                    Thread.sleep(1);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    private void drain() throws SyscallException {
        scratch.clear();
        uffd.readMessages(buf, scratch);
        for (Userfaultfd.Message m : scratch) {
            if (m.event() != Userfaultfd.UFFD_EVENT_REMOVE) {
                otherEvents++;
                continue;
            }
            removeEvents++;
            long start = m.start() & -PAGE, end = (m.end() + PAGE - 1) & -PAGE;
            if (end > start) removed.add(new RemoteRange(start, end - start));
        }
    }

    /** The ranges removed since the previous call (unsorted, may overlap); reads what is queued first. */
    synchronized List<RemoteRange> take() throws SyscallException {
        drain();
        List<RemoteRange> r = removed;
        removed = new ArrayList<>();
        return r;
    }

    /** Events read so far: remove, other. */
    synchronized long[] counts() {
        return new long[] {removeEvents, otherEvents};
    }

    /** Stops the reader (within one poll interval); the userfaultfd itself is closed by its owner afterwards. */
    @Override
    public void close() {
        closed = true;
        try {
            reader.join(2L * POLL_MILLIS + 1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
