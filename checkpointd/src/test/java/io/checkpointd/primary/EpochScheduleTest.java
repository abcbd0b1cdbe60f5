package io.checkpointd.primary;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.protocol.auth.ChannelKey;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** When epochs end: on held output of an unsealed epoch, past the floor; never on a signal already sealed. */
class EpochScheduleTest {
    private static PrimaryConfig config(Duration epoch, Duration min, boolean onOutput) {
        return new PrimaryConfig(1, new InetSocketAddress("127.0.0.1", 9), epoch, null, "", null, 1, null, 2, true, null,
                ChannelKey.insecurePlaintext(), false, null, true, "auto", min, onOutput);
    }

    @Test
    @Timeout(30)
    void heldOutputEndsTheEpochLongBeforeItsInterval() throws Exception {
        EpochSchedule s = new EpochSchedule(config(Duration.ofMinutes(10), Duration.ofMillis(1), true));
        s.awaitNext(); // the first epoch starts at once
        s.sealed(4);
        s.thawed();
        s.outputHeld(5);
        s.awaitNext(); // a ten-minute interval: only the signal can end this wait within the test's timeout
        assertThat(s.endedOnOutput()).isEqualTo(1);
        assertThat(s.summary().get("endedOnInterval")).isEqualTo(1L);
    }

    @Test
    @Timeout(30)
    void aSignalOfAnEpochAlreadySealedEndsNothing() throws Exception {
        EpochSchedule s = new EpochSchedule(config(Duration.ofMinutes(10), Duration.ofMillis(1), true));
        s.awaitNext(); // the first epoch starts at once
        s.sealed(5);
        s.outputHeld(5); // arrived after epoch 5's seal, which already covers that output
        CompletableFuture<Void> next = CompletableFuture.runAsync(() -> {
            try {
                s.awaitNext();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        try {
            next.get(300, TimeUnit.MILLISECONDS);
            throw new AssertionError("the epoch ended on a stale signal");
        } catch (TimeoutException expected) {
            // still waiting: right
        }
        s.outputHeld(6);
        next.get(10, TimeUnit.SECONDS);
        assertThat(s.endedOnOutput()).isEqualTo(1);
        assertThat(s.summary().get("endedOnInterval")).isEqualTo(1L);
    }

    @Test
    @Timeout(30)
    void onTheIntervalAloneSignalsAreIgnored() throws Exception {
        EpochSchedule s = new EpochSchedule(config(Duration.ofMillis(50), Duration.ofMillis(1), false));
        s.outputHeld(1);
        s.awaitNext();
        s.awaitNext();
        assertThat(s.endedOnOutput()).isZero();
        assertThat(s.summary().get("endedOnInterval")).isEqualTo(2L);
    }

    @Test
    @Timeout(30)
    void anEpochThatDidNotSealWaitsForTheIntervalUnlessItIsRetried() throws Exception {
        EpochSchedule s = new EpochSchedule(config(Duration.ofMillis(300), Duration.ofMillis(1), true));
        s.awaitNext(); // the first epoch starts at once
        s.outputHeld(1);
        s.awaitNext(); // on output; say its freeze or seal then fails
        s.awaitNext(); // the same output again: not at once (no spinning on a failing proxy), on the interval
        assertThat(s.endedOnOutput()).isEqualTo(1);
        assertThat(s.summary().get("endedOnInterval")).isEqualTo(2L);
        s.retry(); // the loop had no window slot for it: the output still waits, so at once
        s.awaitNext();
        assertThat(s.endedOnOutput()).isEqualTo(2);
    }
}
