package io.checkpointd.linux.testing;

import io.checkpointd.linux.ProcessMemory.RemoteRange;
import io.checkpointd.linux.freezer.Freezer;
import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.ptrace.StoppedProcess;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A running {@link TrackChild} (a grandchild, so ptrace stops reach this JVM), its freezer, and helpers for
 * the tests: commands, a "pause" that stops it as an epoch does, page arithmetic. Closing kills and reaps it.
 */
public final class TrackChildProcess implements AutoCloseable {
    public static final long PAGE = 4096;
    private final Children children = new Children();
    private final Children.Grandchild g;
    private Freezer freezer;

    public TrackChildProcess() throws IOException {
        g = children.javaGrandchild(TrackChild.class);
        Children.readLineStartingWith(g.stdout(), "READY");
    }

    public int pid() {
        return g.pid();
    }

    public Freezer freezer() throws IOException {
        if (freezer == null) freezer = Freezer.forProcess(pid());
        return freezer;
    }

    /** Sends one command, returns what follows {@code ok}. */
    public String cmd(String line) throws IOException {
        Children.send(g.shell(), line);
        String a = g.stdout().readLine();
        if (a == null || !a.startsWith("ok")) throw new IOException("child answered " + a + " to " + line);
        return a.substring(2).trim();
    }

    /** {@code alloc}: the region's address. */
    public long alloc(String name, int pages, boolean touch) throws IOException {
        return Long.parseUnsignedLong(cmd("alloc " + name + " " + pages + " " + (touch ? 1 : 0)), 16);
    }

    public interface Body<T> {
        T run(StoppedProcess stopped) throws Exception;
    }

    /** Freeze, stop every thread (StoppedProcess), run {@code body}, detach: one epoch's pause. */
    public <T> T paused(Body<T> body) throws Exception {
        freezer().freeze(Duration.ofSeconds(5));
        try (StoppedProcess sp = StoppedProcess.stop(pid(), freezer(), Duration.ofSeconds(5))) {
            return body.run(sp);
        }
    }

    /** The page addresses in {@code ranges} that lie in {@code [start, start + pages*PAGE)}. */
    public static List<Long> pagesIn(List<RemoteRange> ranges, long start, int pages) {
        long end = start + pages * PAGE;
        List<Long> out = new ArrayList<>();
        for (RemoteRange r : ranges) {
            for (long a = Math.max(r.address(), start); a < Math.min(r.address() + r.length(), end); a += PAGE) out.add(a);
        }
        return out;
    }

    /** Page addresses {@code base + i*PAGE} for the given indices. */
    public static List<Long> pages(long base, int... idx) {
        List<Long> out = new ArrayList<>();
        for (int i : idx) out.add(base + i * PAGE);
        return out;
    }

    /** Page addresses {@code base + i*PAGE} for {@code i} in {@code [from, to)}. */
    public static List<Long> pageRange(long base, int from, int to) {
        List<Long> out = new ArrayList<>();
        for (int i = from; i < to; i++) out.add(base + i * PAGE);
        return out;
    }

    /** State letters of every thread, e.g. to check none is left in tracing stop ({@code t}). */
    public String threadStates() throws IOException {
        StringBuilder sb = new StringBuilder();
        for (int tid : ProcFs.threads(pid())) {
            try {
                sb.append(ProcFs.state(tid));
            } catch (IOException e) {
                // exited meanwhile
            }
        }
        return sb.toString();
    }

    @Override
    public void close() throws Exception {
        try {
            if (freezer != null) freezer.close();
        } finally {
            children.close();
        }
    }
}
