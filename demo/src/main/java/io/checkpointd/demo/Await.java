package io.checkpointd.demo;

import java.io.IOException;
import java.time.Duration;
import java.util.function.Supplier;

/** Polling with a deadline, for the demo clusters' waits on processes and status files. */
public final class Await {
    private Await() {
    }

    /** One look at what is awaited: a result once it is there, null while it is not; throws if it never will be. */
    @FunctionalInterface
    public interface Probe<T> {
        T poll() throws IOException, InterruptedException;
    }

    /**
     * Calls {@code probe} every {@code interval} until it returns a result, and returns that.
     *
     * @throws IOException with {@code timeoutMessage} once {@code max} has passed without a result, or what the
     *                     probe throws
     */
    public static <T> T until(Duration max, Duration interval, Supplier<String> timeoutMessage, Probe<T> probe)
            throws IOException, InterruptedException {
        long deadline = System.nanoTime() + max.toNanos();
        while (true) {
            T result = probe.poll();
            if (result != null) return result;
            if (System.nanoTime() - deadline > 0) throw new IOException(timeoutMessage.get());
            Thread.sleep(interval.toMillis());
        }
    }
}
