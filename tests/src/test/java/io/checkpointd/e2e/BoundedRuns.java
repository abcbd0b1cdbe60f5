package io.checkpointd.e2e;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.time.Duration;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.function.Executable;

/**
 * Dynamic tests with a bound of their own. {@code @Timeout} on a {@code @TestFactory} bounds only the factory
 * method, not the dynamic tests it returns, so a hung run would hang the build. Here each run executes on a thread
 * of its own; past its bound it is interrupted (its try-with-resources close what it started) and the test fails.
 */
public final class BoundedRuns {
    private BoundedRuns() {
    }

    /** A dynamic test that fails if {@code run} has not finished within {@code bound}. */
    public static DynamicTest dynamicTest(String name, Duration bound, Executable run) {
        return DynamicTest.dynamicTest(name, () -> assertTimeoutPreemptively(bound, run,
                () -> name + " did not finish within " + bound.toSeconds() + " s (interrupted)"));
    }

    /** One repetition of a soak: gets its number, from 1. */
    public interface Repetition {
        void run(int rep) throws Throwable;
    }

    /**
     * {@code runs} repetitions named {@code "name i/n"}, each bounded by {@code bound}; {@code -Dcheckpointd.soak=N}
     * runs N instead.
     */
    public static Stream<DynamicTest> soak(String name, int runs, Duration bound, Repetition run) {
        int n = Integer.getInteger("checkpointd.soak", runs);
        return IntStream.rangeClosed(1, n).mapToObj(i -> dynamicTest(name + " " + i + "/" + n, bound, () -> run.run(i)));
    }
}
