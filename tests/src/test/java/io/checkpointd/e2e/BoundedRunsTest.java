package io.checkpointd.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;

/** A hung dynamic run fails within its bound and is interrupted, so it can clean up; a quick one passes. */
class BoundedRunsTest {
    @Test
    void aHungRunFailsWithinItsBoundAndIsInterrupted() throws Exception {
        CountDownLatch cleanedUp = new CountDownLatch(1);
        AtomicBoolean interrupted = new AtomicBoolean();
        DynamicTest t = BoundedRuns.dynamicTest("hung run", Duration.ofMillis(300), () -> {
            try {
                Thread.sleep(20_000); // a run that would hang far past its bound
            } catch (InterruptedException e) {
                interrupted.set(true);
                throw e;
            } finally {
                cleanedUp.countDown();
            }
        });
        long t0 = System.nanoTime();
        assertThatThrownBy(() -> t.getExecutable().execute()).isInstanceOf(AssertionFailedError.class)
                .hasMessageContaining("hung run did not finish within");
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertThat(ms).as("failed after %d ms", ms).isBetween(250L, 5_000L);
        assertThat(cleanedUp.await(5, TimeUnit.SECONDS)).as("the run's finally ran").isTrue();
        assertThat(interrupted).as("the run was interrupted").isTrue();
    }

    @Test
    void aQuickRunPassesAndItsFailuresShowThrough() throws Throwable {
        BoundedRuns.dynamicTest("quick", Duration.ofSeconds(5), () -> Thread.sleep(10)).getExecutable().execute();
        DynamicTest failing = BoundedRuns.dynamicTest("failing", Duration.ofSeconds(5), () -> assertThat(1).isEqualTo(2));
        assertThatThrownBy(() -> failing.getExecutable().execute()).isInstanceOf(AssertionError.class).hasMessageContaining("expected: 2");
    }
}
