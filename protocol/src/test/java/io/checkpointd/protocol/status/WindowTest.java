package io.checkpointd.protocol.status;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class WindowTest {
    @Test
    void percentilesOfTheRecentSamplesToThreeDigits() {
        Window w = new Window(1000);
        assertThat(w.percentile(0.5)).isZero();
        for (int i = 1; i <= 1000; i++) w.add(i * 0.25); // 0.25 .. 250 ms
        assertThat(w.count()).isEqualTo(1000);
        assertThat(w.last()).isEqualTo(250.0);
        assertThat(w.percentile(0.5)).isCloseTo(125.0, within(0.2));
        assertThat(w.percentile(0.99)).isCloseTo(247.5, within(0.3));
        assertThat(w.percentile(1.0)).isCloseTo(250.0, within(0.3));
        Json s = w.summary();
        assertThat((double) s.get("p50")).isCloseTo(125.0, within(0.2));
        assertThat(s.get("n")).isEqualTo(1000L);
    }

    @Test
    void oldSamplesAgeOut() {
        Window w = new Window(100);
        for (int i = 0; i < 100; i++) w.add(1_000_000); // a slow start
        for (int i = 0; i < 100; i++) w.add(2);
        assertThat(w.percentile(1.0)).as("the slow start is gone").isCloseTo(2.0, within(0.01));
        for (int i = 0; i < 50; i++) w.add(5);
        assertThat(w.percentile(0.5)).isCloseTo(2.0, within(0.01));
        assertThat(w.percentile(1.0)).isCloseTo(5.0, within(0.01));
    }

    /** The proxy's held times: samples in a narrow range, then one far above it. */
    @Test
    void samplesBeyondThePreviousRangeAfterARotation() {
        Window w = new Window(10);
        for (int i = 1; i <= 10; i++) w.add(0.0001 * i);
        w.add(0.0185);
        w.add(4.5);
        assertThat(w.percentile(1.0)).isCloseTo(4.5, within(0.01));
        assertThat(w.percentile(0.0)).isCloseTo(0.0003, within(0.00001)); // the last 10 samples
        assertThat(w.summary().get("n")).isEqualTo(12L);
    }

    @Test
    void bytesAndMillisecondsShareOneWindowType() {
        Window w = new Window(10);
        w.add(3.5e9); // bytes of a full sync
        w.add(0.004); // a 4 µs pause
        assertThat(w.percentile(1.0)).isCloseTo(3.5e9, within(3.5e6));
        assertThat(w.percentile(0.0)).isCloseTo(0.004, within(1e-9));
    }
}
