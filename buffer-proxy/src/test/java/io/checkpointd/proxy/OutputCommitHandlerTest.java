package io.checkpointd.proxy;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.entry;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The held-output stage alone, on {@link EmbeddedChannel}s standing in for client and upstream. */
class OutputCommitHandlerTest {
    private static final InetSocketAddress UPSTREAM = new InetSocketAddress("127.0.0.1", 9);

    private final List<EmbeddedChannel> channels = new ArrayList<>();
    private OutputCommit commit = new OutputCommit(1, UPSTREAM, false, 100, 1000);

    @AfterEach
    void closeChannels() {
        for (EmbeddedChannel ch : channels) ch.finishAndReleaseAll();
    }

    @Test
    void outputIsTaggedWithTheOpenEpochAndReleasedOnlyByItsRelease() throws Exception {
        Conn c = connect();
        c.out.hold(bytes("a"));
        commit.seal(1, 0);
        c.out.hold(bytes("b"));
        assertThat(c.readAll()).isEmpty();

        commit.release(1, 0);
        assertThat(c.readAll()).isEqualTo("a");
        assertThat(c.out.heldBytes()).isEqualTo(1);

        commit.seal(1, 1);
        commit.release(1, 1);
        assertThat(c.readAll()).isEqualTo("b");
        assertThat(commit.snapshot().heldBytes()).isZero();
        assertThat(commit.snapshot().releasedBytes()).isEqualTo(2);
    }

    @Test
    void releaseWritesEveryReleasedEpochInArrivalOrder() throws Exception {
        Conn c = connect();
        for (int epoch = 0; epoch < 5; epoch++) {
            c.out.hold(bytes(epoch + "x"));
            c.out.hold(bytes(epoch + "y"));
            commit.seal(1, epoch);
        }
        commit.release(1, 2);
        assertThat(c.readAll()).isEqualTo("0x0y1x1y2x2y");
        commit.release(1, 4);
        assertThat(c.readAll()).isEqualTo("3x3y4x4y");
    }

    @Test
    void drainingThroughWritabilityChangesWritesEachChunkOnceInOrder() throws Exception {
        commit = new OutputCommit(1, UPSTREAM, false, 10_000, 10_000);
        Conn c = connect();
        // Tiny water marks: writes go unwritable and the flushes in drain() fire writability events re-entrantly.
        c.client.config().setWriteBufferWaterMark(new io.netty.channel.WriteBufferWaterMark(8, 16));
        StringBuilder expected = new StringBuilder();
        List<ByteBuf> chunks = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            String chunk = String.format("chunk-%03d;", i);
            expected.append(chunk);
            ByteBuf b = bytes(chunk);
            chunks.add(b);
            c.out.hold(b);
        }
        commit.seal(1, 0);
        commit.release(1, 0);
        assertThat(c.readAll()).isEqualTo(expected.toString());
        assertThat(chunks).allSatisfy(b -> assertThat(b.refCnt()).isZero());
        assertThat(commit.snapshot().heldBytes()).isZero();
        assertThat(commit.snapshot().releasedBytes()).isEqualTo(expected.length());
    }

    @Test
    void upstreamCloseReachesTheClientOnlyAfterItsEpochIsReleased() throws Exception {
        Conn c = connect();
        c.out.hold(bytes("last"));
        commit.seal(1, 0);
        c.out.holdClose(); // tagged 1
        commit.release(1, 0);
        assertThat(c.readAll()).isEqualTo("last");
        assertThat(c.client.isOpen()).isTrue();

        commit.seal(1, 1);
        commit.release(1, 1);
        c.client.runPendingTasks();
        assertThat(c.client.isOpen()).isFalse();
    }

    @Test
    void perConnectionCapStopsUpstreamReadsUntilReleaseBringsItBelow() throws Exception {
        Conn c = connect();
        c.out.hold(bytes("x".repeat(60)));
        assertThat(c.upstream.config().isAutoRead()).isTrue();
        c.out.hold(bytes("y".repeat(60)));
        assertThat(c.upstream.config().isAutoRead()).isFalse();

        commit.seal(1, 0);
        commit.release(1, 0);
        assertThat(c.upstream.config().isAutoRead()).isTrue();
        assertThat(c.readAll()).hasSize(120);
    }

    @Test
    void totalCapPausesTheConnectionThatCrossesItAndResumesItWhenAnotherReleases() throws Exception {
        commit = new OutputCommit(1, UPSTREAM, false, 1000, 100);
        Conn a = connect();
        a.out.hold(bytes("a".repeat(70)));
        commit.seal(1, 0);
        Conn b = connect();
        b.out.hold(bytes("b".repeat(40)));
        assertThat(a.upstream.config().isAutoRead()).isTrue();
        assertThat(b.upstream.config().isAutoRead()).isFalse();

        commit.release(1, 0); // frees a's 70 bytes; b's were read after the seal and stay held
        assertThat(a.readAll()).hasSize(70);
        assertThat(b.readAll()).isEmpty();
        assertThat(b.upstream.config().isAutoRead()).isTrue();
    }

    @Test
    void pausedBeforeTheUpstreamIsAttachedStillPausesIt() {
        OutputCommitHandler out = new OutputCommitHandler(commit);
        channels.add(new EmbeddedChannel(out));
        out.hold(bytes("z".repeat(150)));
        EmbeddedChannel upstream = new EmbeddedChannel();
        channels.add(upstream);
        out.attachUpstream(upstream);
        assertThat(upstream.config().isAutoRead()).isFalse();
    }

    @Test
    void removingTheHandlerFreesEverythingItHeld() throws Exception {
        Conn c = connect();
        ByteBuf one = bytes("one");
        ByteBuf two = bytes("two");
        c.out.hold(one);
        commit.seal(1, 0);
        c.out.hold(two);
        c.client.pipeline().remove(c.out);
        assertThat(one.refCnt()).isZero();
        assertThat(two.refCnt()).isZero();
        assertThat(commit.snapshot()).satisfies(s -> {
            assertThat(s.heldBytes()).isZero();
            assertThat(s.discardedBytes()).isEqualTo(6);
            assertThat(s.connections()).isZero();
        });
        // Output arriving after removal is freed at once, not queued.
        ByteBuf late = bytes("late");
        c.out.hold(late);
        assertThat(late.refCnt()).isZero();
    }

    @Test
    void clientGoingAwayFreesHeldOutput() {
        Conn c = connect();
        ByteBuf held = bytes("held");
        c.out.hold(held);
        c.client.close();
        assertThat(held.refCnt()).isZero();
        assertThat(commit.snapshot().heldBytes()).isZero();
    }

    @Test
    void newGenerationDiscardsOutputAndClosesOldConnections() throws Exception {
        Conn c = connect();
        ByteBuf held = bytes("old");
        c.out.hold(held);
        commit.seal(1, 0);
        commit.newGeneration(2, new InetSocketAddress("127.0.0.1", 10));
        c.client.runPendingTasks();
        assertThat(held.refCnt()).isZero();
        assertThat(c.client.isOpen()).isFalse();
        assertThat(c.upstream.isOpen()).isFalse();
        assertThat(commit.snapshot()).satisfies(s -> {
            assertThat(s.generation()).isEqualTo(2);
            assertThat(s.lastSealed()).isEqualTo(-1);
            assertThat(s.discardedBytes()).isEqualTo(3);
            assertThat(s.passthrough()).isFalse();
        });
    }

    @Test
    void staleOrUnsealedRequestsAreRejectedAndChangeNothing() throws Exception {
        commit.newGeneration(3, UPSTREAM);
        Conn c = connect();
        c.out.hold(bytes("keep"));
        commit.seal(3, 4);
        assertThatThrownBy(() -> commit.seal(2, 9)).isInstanceOf(RejectedRequest.class).hasMessageContaining("stale");
        assertThatThrownBy(() -> commit.release(2, 4)).isInstanceOf(RejectedRequest.class);
        assertThatThrownBy(() -> commit.release(4, 4)).isInstanceOf(RejectedRequest.class);
        assertThatThrownBy(() -> commit.release(3, 5)).isInstanceOf(RejectedRequest.class)
                .hasMessageContaining("not sealed");
        assertThatThrownBy(() -> commit.seal(3, 3)).isInstanceOf(RejectedRequest.class);
        assertThatThrownBy(() -> commit.passthrough(2)).isInstanceOf(RejectedRequest.class);
        assertThatThrownBy(() -> commit.newGeneration(2, UPSTREAM)).isInstanceOf(RejectedRequest.class);
        assertThatThrownBy(() -> commit.newGeneration(3, new InetSocketAddress("127.0.0.1", 11)))
                .isInstanceOf(RejectedRequest.class);
        assertThat(c.readAll()).isEmpty();
        assertThat(commit.snapshot().lastSealed()).isEqualTo(4);
        assertThat(commit.snapshot().lastReleased()).isEqualTo(-1);
        commit.seal(3, 4); // a retried seal is answered again
    }

    @Test
    void passthroughReleasesHeldOutputAndStopsHolding() throws Exception {
        Conn c = connect();
        c.out.hold(bytes("a"));
        commit.passthrough(1);
        assertThat(c.readAll()).isEqualTo("a");
        c.out.hold(bytes("b"));
        assertThat(c.readAll()).isEqualTo("b");
        c.out.holdClose();
        c.client.runPendingTasks();
        assertThat(c.client.isOpen()).isFalse();
    }

    @Test
    void holdAfterPassthroughHoldsNewOutputUntilItsEpochIsReleased() throws Exception {
        Conn c = connect();
        commit.seal(1, 4);
        commit.passthrough(1);
        c.out.hold(bytes("unprotected"));
        assertThat(c.readAll()).isEqualTo("unprotected");
        commit.hold(1);
        c.out.hold(bytes("protected"));
        assertThat(c.readAll()).as("held again after HOLD").isEmpty();
        commit.seal(1, 5);
        commit.release(1, 5);
        assertThat(c.readAll()).isEqualTo("protected");
        assertThatThrownBy(() -> commit.hold(0)).isInstanceOf(RejectedRequest.class);
    }

    @Test
    void outputBytesAtSealRecordWhatEachReleaseLetsOut() throws Exception {
        Conn a = connect();
        Conn b = connect();
        a.out.hold(bytes("aa"));
        b.out.hold(bytes("bbb"));
        commit.seal(1, 0);
        a.out.hold(bytes("c"));
        commit.seal(1, 0); // a re-seal moves no boundary: "c" stays in epoch 1
        commit.seal(1, 2); // epoch 1 skipped: "c" belongs to epoch 2
        b.out.hold(bytes("dddd"));
        assertThat(commit.snapshot().outputBytes()).isEqualTo(10);
        assertThat(commit.snapshot().outputBytesAtSeal()).containsExactly(entry(0L, 5L), entry(2L, 6L));

        commit.release(1, 0);
        assertThat(a.readAll() + b.readAll()).hasSize(5);
        commit.seal(1, 3);
        commit.release(1, 2);
        assertThat(a.readAll() + b.readAll()).isEqualTo("c");
        assertThat(commit.snapshot().outputBytesAtSeal()).as("released boundaries before the last are dropped")
                .containsExactly(entry(2L, 6L), entry(3L, 10L));

        commit.newGeneration(2, UPSTREAM);
        assertThat(commit.snapshot().outputBytes()).isZero();
        assertThat(commit.snapshot().outputBytesAtSeal()).isEmpty();
    }

    @Test
    void upstreamAddressParsing() throws Exception {
        assertThat(ControlHandler.parseUpstream("127.0.0.1:8080".getBytes(US_ASCII)))
                .isEqualTo(new InetSocketAddress("127.0.0.1", 8080));
        assertThat(ControlHandler.parseUpstream("[::1]:80".getBytes(US_ASCII)).getPort()).isEqualTo(80);
        assertThat(ControlHandler.parseUpstream("backup.local:80".getBytes(US_ASCII)).isUnresolved()).isTrue();
        for (String bad : new String[] {"", "host", ":80", "host:", "host:x", "host:70000"}) {
            assertThatThrownBy(() -> ControlHandler.parseUpstream(bad.getBytes(US_ASCII)))
                    .as(bad).isInstanceOf(RejectedRequest.class);
        }
        assertThatThrownBy(() -> ControlHandler.parseUpstream(new byte[] {(byte) 0xff, ':', '1'}))
                .isInstanceOf(RejectedRequest.class);
    }

    private Conn connect() {
        OutputCommitHandler out = new OutputCommitHandler(commit);
        EmbeddedChannel client = new EmbeddedChannel(out);
        EmbeddedChannel upstream = new EmbeddedChannel();
        channels.add(client);
        channels.add(upstream);
        out.attachUpstream(upstream);
        return new Conn(out, client, upstream);
    }

    private ByteBuf bytes(String s) {
        return Unpooled.copiedBuffer(s, US_ASCII);
    }

    private record Conn(OutputCommitHandler out, EmbeddedChannel client, EmbeddedChannel upstream) {
        String readAll() {
            StringBuilder sb = new StringBuilder();
            ByteBuf b;
            while ((b = client.readOutbound()) != null) {
                sb.append(b.toString(US_ASCII));
                b.release();
            }
            return sb.toString();
        }
    }
}
