package io.checkpointd.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class KvLatencyRecorderTest {

    @Test
    void bucketsCoverEveryValueWithinOnePercent() {
        SplittableRandom rnd = new SplittableRandom(42);
        for (int k = 0; k < 100_000; k++) {
            long v = rnd.nextLong(Long.MAX_VALUE) >>> rnd.nextInt(63);
            int b = LatencyRecorder.bucket(v);
            long ub = LatencyRecorder.upperBound(b);
            assertThat(ub).isGreaterThanOrEqualTo(v);
            assertThat((double) (ub - v)).isLessThanOrEqualTo(Math.max(0, v / 128.0));
            if (b > 0) {
                assertThat(LatencyRecorder.upperBound(b - 1)).isLessThan(v);
            }
        }
        assertThat(LatencyRecorder.bucket(Long.MAX_VALUE)).isEqualTo(LatencyRecorder.bucket(Long.MAX_VALUE - 1));
        assertThat(LatencyRecorder.upperBound(LatencyRecorder.bucket(Long.MAX_VALUE))).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void percentilesOfAUniformSpread() {
        LatencyRecorder r = new LatencyRecorder();
        for (long v = 1; v <= 10_000; v++) {
            r.record(v * 1000); // 1 us .. 10 ms
        }
        LatencyRecorder.Snapshot s = r.snapshot();
        assertThat(s.count()).isEqualTo(10_000);
        assertThat((double) s.percentileNanos(50)).isCloseTo(5_000_000, within(50_000.0));
        assertThat((double) s.percentileNanos(99)).isCloseTo(9_900_000, within(99_000.0));
        assertThat(s.percentileNanos(100)).isEqualTo(10_000_000);
        assertThat(s.maxNanos()).isEqualTo(10_000_000);
        assertThat(s.meanNanos()).isCloseTo(5_000_500, within(60_000.0));
        assertThat(s.toString()).contains("p50=").contains("p99=");
    }

    @Test
    void emptyAndNegative() {
        LatencyRecorder r = new LatencyRecorder();
        assertThat(r.snapshot().percentileNanos(99)).isZero();
        r.record(-5);
        assertThat(r.snapshot().count()).isEqualTo(1);
        assertThat(r.snapshot().maxNanos()).isZero();
    }

    @Test
    void snapshotDifferenceMeasuresAnInterval() {
        LatencyRecorder r = new LatencyRecorder();
        for (int i = 0; i < 1000; i++) {
            r.record(1_000_000_000L); // warm-up: 1 s each
        }
        LatencyRecorder.Snapshot s0 = r.snapshot();
        for (int i = 0; i < 1000; i++) {
            r.record(1000);
        }
        LatencyRecorder.Snapshot d = r.snapshot().minus(s0);
        assertThat(d.count()).isEqualTo(1000);
        assertThat(d.percentileNanos(99)).isBetween(1000L, 1008L); // bucket upper bound, < 1% above
        assertThat(d.maxNanos()).isBetween(1000L, 1008L);
    }

    @Test
    void concurrentRecordingLosesNothing() throws InterruptedException {
        LatencyRecorder r = new LatencyRecorder();
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            int id = t;
            ts.add(new Thread(() -> {
                for (int i = 0; i < 50_000; i++) {
                    r.record(id * 1000L + i % 100);
                }
            }));
        }
        ts.forEach(Thread::start);
        for (Thread t : ts) {
            t.join();
        }
        assertThat(r.snapshot().count()).isEqualTo(200_000);
        assertThat(r.snapshot().maxNanos()).isEqualTo(3099);
    }
}
