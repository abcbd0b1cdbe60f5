package io.checkpointd.proxy;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * OUTPUT_HELD: the proxy tells the control connection that sealed last, once per epoch, that the open epoch holds
 * output; nothing in passthrough, nothing to a connection that has not sealed, and a new generation starts over.
 */
class OutputHeldSignalTest {
    private static final InetSocketAddress UPSTREAM = new InetSocketAddress("127.0.0.1", 9);

    private final OutputCommit commit = new OutputCommit(1, UPSTREAM, false, 1 << 20, 1 << 24);
    private final List<Long> heard = new ArrayList<>();
    private final List<EmbeddedChannel> channels = new ArrayList<>();

    @AfterEach
    void close() {
        for (EmbeddedChannel ch : channels) ch.finishAndReleaseAll();
    }

    @Test
    void theFirstOutputOfEachEpochIsSignalledOnceToTheLastSealer() throws Exception {
        OutputCommitHandler a = connect(), b = connect();
        a.hold(bytes("before any seal")); // no control connection has sealed: nobody to tell
        assertThat(heard).isEmpty();

        commit.seal(1, 0, heard::add);
        a.hold(bytes("x"));
        b.hold(bytes("y"));
        a.hold(bytes("z"));
        assertThat(heard).as("output of epoch 1, on two connections: one signal").containsExactly(1L);

        commit.seal(1, 1, heard::add);
        commit.seal(1, 2, heard::add); // an epoch without output: no signal for it
        b.holdClose(); // the service's close is output too
        assertThat(heard).containsExactly(1L, 3L);
        assertThat(commit.snapshot().outputHeldSignals()).isEqualTo(2);
    }

    @Test
    void passthroughAndAClosedControlConnectionHearNothingAndANewGenerationStartsOver() throws Exception {
        OutputCommitHandler a = connect();
        java.util.function.LongConsumer w = heard::add;
        commit.seal(1, 0, w);
        commit.passthrough(1);
        a.hold(bytes("unheld"));
        assertThat(heard).isEmpty();
        commit.hold(1);
        a.hold(bytes("held"));
        assertThat(heard).containsExactly(1L);

        commit.unwatch(w);
        commit.seal(1, 1); // sealed by a connection that does not listen
        a.hold(bytes("more"));
        assertThat(heard).containsExactly(1L);

        commit.newGeneration(2, UPSTREAM); // closes the old connections
        commit.seal(2, 0, heard::add);
        connect().hold(bytes("gen 2"));
        assertThat(heard).as("epochs count again from the new generation's first").containsExactly(1L, 1L);
    }

    @Test
    void eachReleasedChunkRecordsTheTimeItWasHeld() throws Exception {
        OutputCommitHandler a = connect();
        a.hold(bytes("a"));
        a.hold(bytes("b"));
        commit.seal(1, 0);
        assertThat(commit.snapshot().heldChunks()).isZero();
        commit.release(1, 0);
        ProxyStats s = commit.snapshot();
        assertThat(s.heldChunks()).isEqualTo(2);
        assertThat(s.heldP99Ms()).isGreaterThanOrEqualTo(s.heldP50Ms()).isGreaterThan(0);
    }

    private OutputCommitHandler connect() {
        OutputCommitHandler out = new OutputCommitHandler(commit);
        EmbeddedChannel client = new EmbeddedChannel(out);
        EmbeddedChannel upstream = new EmbeddedChannel();
        channels.add(client);
        channels.add(upstream);
        out.attachUpstream(upstream);
        return out;
    }

    private static io.netty.buffer.ByteBuf bytes(String s) {
        return Unpooled.copiedBuffer(s, US_ASCII);
    }
}
