package io.checkpointd.e2e;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.time.Duration;
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
}
