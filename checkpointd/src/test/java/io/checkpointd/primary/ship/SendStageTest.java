package io.checkpointd.primary.ship;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.checkpointd.protocol.Frame;
import io.checkpointd.protocol.FrameType;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The ship stage on a wire this test controls: frames leave in order on the stage's thread, the producer returns
 * before they are written and blocks only on the byte bound, the wire is flushed once a burst is out, a failed write
 * surfaces at the next enqueue, and a reset keeps an old connection's frames off the new one.
 */
@Timeout(30)
class SendStageTest {
    /** A wire that records what it was given, and can be held shut or made to fail. */
    private static final class TestWire implements SendStage.Wire {
        final List<String> written = new ArrayList<>();
        final List<Boolean> flushed = new ArrayList<>();
        final CountDownLatch open = new CountDownLatch(1);
        volatile boolean held;
        volatile String failOn;
        volatile Thread writer;

        @Override
        public int send(Frame f, boolean flush) throws IOException, InterruptedException {
            writer = Thread.currentThread();
            if (held) open.await();
            String name = f.type() + ":" + f.epoch() + ":" + f.payload().length;
            if (name.equals(failOn)) throw new IOException("connection to the backup lost");
            synchronized (this) {
                written.add(name);
                flushed.add(flush);
            }
            return f.payload().length / 2;
        }

        synchronized List<String> written() {
            return List.copyOf(written);
        }
    }

    private static Frame frame(FrameType t, long epoch, int bytes) {
        return new Frame(t, 1, epoch, new byte[bytes]);
    }

    @Test
    void framesLeaveInOrderOnTheStagesThreadAndTheLastOfABurstFlushes() throws Exception {
        TestWire wire = new TestWire();
        wire.held = true;
        try (SendStage stage = new SendStage(wire, 1 << 20, "test-ship")) {
            List<String> expected = new ArrayList<>();
            for (long e = 1; e <= 3; e++) {
                stage.enqueue(frame(FrameType.EPOCH_BEGIN, e, 10), SendStage.Sent.NONE);
                stage.enqueue(frame(FrameType.EPOCH_DATA, e, 100), SendStage.Sent.NONE);
                stage.enqueue(frame(FrameType.EPOCH_END, e, 20), SendStage.Sent.NONE);
                expected.addAll(List.of("EPOCH_BEGIN:" + e + ":10", "EPOCH_DATA:" + e + ":100", "EPOCH_END:" + e + ":20"));
            }
            // every enqueue returned with the wire shut: the producer never waits for a write under the bound
            assertThat(stage.busy()).isTrue();
            wire.open.countDown();
            assertThat(stage.awaitSent(Duration.ofSeconds(5))).isTrue();
            assertThat(wire.written()).containsExactlyElementsOf(expected);
            assertThat(wire.writer).isNotSameAs(Thread.currentThread());
            assertThat(wire.flushed.get(wire.flushed.size() - 1)).as("the last frame of a burst flushes").isTrue();
            assertThat(wire.flushed.subList(1, wire.flushed.size() - 1)).as("frames with more behind them do not").containsOnly(false);
            assertThat(stage.busy()).isFalse();
        }
    }

    @Test
    void aSmallBurstFindingTheStageIdleIsWrittenByItsCallerWithOneFlush() throws Exception {
        TestWire wire = new TestWire();
        List<Integer> told = new ArrayList<>();
        try (SendStage stage = new SendStage(wire, 1 << 20, 1000, "test-ship")) {
            List<Frame> burst = List.of(frame(FrameType.EPOCH_BEGIN, 1, 10), frame(FrameType.EPOCH_DATA, 1, 500),
                    frame(FrameType.EPOCH_END, 1, 20));
            stage.enqueueAll(burst, List.of(told::add, told::add, told::add));
            // written before enqueueAll returned, on this thread: no hand-off to the stage's thread
            assertThat(wire.written()).containsExactly("EPOCH_BEGIN:1:10", "EPOCH_DATA:1:500", "EPOCH_END:1:20");
            assertThat(wire.writer).isSameAs(Thread.currentThread());
            assertThat(wire.flushed).containsExactly(false, false, true);
            assertThat(told).containsExactly(5, 250, 10);
            assertThat(stage.busy()).isFalse();
            assertThat(stage.status().get("inlineBursts")).isEqualTo(1L);

            // larger than the inline bound: the stage's thread writes it, still one flush at its end
            stage.enqueueAll(List.of(frame(FrameType.EPOCH_BEGIN, 2, 10), frame(FrameType.EPOCH_DATA, 2, 1000),
                    frame(FrameType.EPOCH_END, 2, 20)), List.of(SendStage.Sent.NONE, SendStage.Sent.NONE, SendStage.Sent.NONE));
            assertThat(stage.awaitSent(Duration.ofSeconds(5))).isTrue();
            assertThat(wire.writer).isNotSameAs(Thread.currentThread());
            assertThat(wire.flushed.subList(3, 6)).containsExactly(false, false, true);
        }
    }

    @Test
    void aSmallBurstBehindQueuedFramesWaitsItsTurnOnTheStagesThread() throws Exception {
        TestWire wire = new TestWire();
        wire.held = true;
        try (SendStage stage = new SendStage(wire, 1 << 20, 1000, "test-ship")) {
            stage.enqueue(frame(FrameType.EPOCH_BEGIN, 1, 10), SendStage.Sent.NONE); // taken by the stage, held
            while (wire.writer == null) Thread.sleep(5);
            stage.enqueueAll(List.of(frame(FrameType.EPOCH_END, 1, 20)), List.of(SendStage.Sent.NONE));
            assertThat(wire.written()).as("not written past the frame in progress").isEmpty();
            wire.open.countDown();
            assertThat(stage.awaitSent(Duration.ofSeconds(5))).isTrue();
            assertThat(wire.written()).containsExactly("EPOCH_BEGIN:1:10", "EPOCH_END:1:20");
            assertThat(stage.status().get("inlineBursts")).isEqualTo(0L);
        }
    }

    @Test
    void aFullQueueBlocksTheProducerUntilTheWireTakesFrames() throws Exception {
        TestWire wire = new TestWire();
        wire.held = true;
        try (SendStage stage = new SendStage(wire, 1000, "test-ship")) {
            stage.enqueue(frame(FrameType.EPOCH_DATA, 1, 600), SendStage.Sent.NONE); // taken by the writer, held
            stage.enqueue(frame(FrameType.EPOCH_DATA, 1, 300), SendStage.Sent.NONE);
            AtomicBoolean third = new AtomicBoolean();
            Thread producer = new Thread(() -> {
                try {
                    stage.enqueue(frame(FrameType.EPOCH_DATA, 1, 300), SendStage.Sent.NONE); // 1,200 > 1,000: waits
                    third.set(true);
                } catch (IOException | InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            producer.start();
            producer.join(300);
            assertThat(third).as("the bound holds the producer while the wire is shut").isFalse();
            wire.open.countDown();
            producer.join(5000);
            assertThat(third).isTrue();
            assertThat(stage.awaitSent(Duration.ofSeconds(5))).isTrue();
            assertThat(wire.written()).hasSize(3);
            assertThat(stage.status().get("blockedMs")).isNotNull();
        }
    }

    @Test
    void aFailedWriteDropsTheRestAndTheNextEnqueueFailsUntilReset() throws Exception {
        TestWire wire = new TestWire();
        wire.failOn = "EPOCH_DATA:1:100";
        wire.held = true;
        List<Integer> told = new ArrayList<>();
        try (SendStage stage = new SendStage(wire, 1 << 20, "test-ship")) {
            stage.enqueue(frame(FrameType.EPOCH_BEGIN, 1, 10), b -> told.add(b));
            stage.enqueue(frame(FrameType.EPOCH_DATA, 1, 100), b -> told.add(b));
            stage.enqueue(frame(FrameType.EPOCH_END, 1, 20), b -> told.add(b));
            wire.open.countDown();
            assertThat(stage.awaitSent(Duration.ofSeconds(5))).isTrue();
            assertThatThrownBy(() -> stage.enqueue(frame(FrameType.EPOCH_BEGIN, 2, 10), SendStage.Sent.NONE))
                    .isInstanceOf(IOException.class).hasMessageContaining("connection to the backup lost");
            assertThat(wire.written()).containsExactly("EPOCH_BEGIN:1:10");
            assertThat(told).as("only the frame written was reported").containsExactly(5);

            wire.failOn = null;
            stage.reset(); // a new connection
            stage.enqueue(frame(FrameType.EPOCH_BEGIN, 3, 10), SendStage.Sent.NONE);
            assertThat(stage.awaitSent(Duration.ofSeconds(5))).isTrue();
            assertThat(wire.written()).containsExactly("EPOCH_BEGIN:1:10", "EPOCH_BEGIN:3:10");
        }
    }

    @Test
    void aResetKeepsTheOldConnectionsQueuedFramesOffTheNewOne() throws Exception {
        TestWire wire = new TestWire();
        wire.held = true;
        try (SendStage stage = new SendStage(wire, 1 << 20, "test-ship")) {
            stage.enqueue(frame(FrameType.EPOCH_BEGIN, 1, 10), SendStage.Sent.NONE); // being written, held
            stage.enqueue(frame(FrameType.EPOCH_DATA, 1, 100), SendStage.Sent.NONE); // queued
            while (!wire.held || wire.writer == null) Thread.sleep(5);
            Thread resetter = new Thread(() -> {
                try {
                    stage.reset();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            resetter.start();
            resetter.join(300);
            assertThat(resetter.isAlive()).as("a reset waits for the write in progress").isTrue();
            wire.open.countDown();
            resetter.join(5000);
            assertThat(resetter.isAlive()).isFalse();
            stage.enqueue(frame(FrameType.EPOCH_BEGIN, 2, 10), SendStage.Sent.NONE);
            assertThat(stage.awaitSent(Duration.ofSeconds(5))).isTrue();
            assertThat(wire.written()).containsExactly("EPOCH_BEGIN:1:10", "EPOCH_BEGIN:2:10");
        }
    }

    @Test
    void awaitSentGivesUpAfterItsTimeout() throws Exception {
        TestWire wire = new TestWire();
        wire.held = true;
        try (SendStage stage = new SendStage(wire, 1 << 20, "test-ship")) {
            stage.enqueue(frame(FrameType.EPOCH_BEGIN, 1, 10), SendStage.Sent.NONE);
            long t0 = System.nanoTime();
            assertThat(stage.awaitSent(Duration.ofMillis(100))).isFalse();
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).isGreaterThanOrEqualTo(90);
            wire.open.countDown();
        }
    }
}
