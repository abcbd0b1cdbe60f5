package io.checkpointd.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.protocol.auth.ChannelKey;
import io.checkpointd.protocol.control.ProxyControlClient;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Output commit epoch by epoch: a real proxy on loopback, several client connections and their real service-side
 * sockets. Each epoch's output is distinct random bytes; epochs are sealed one after another, then released one at a
 * time, and after each RELEASE every client must hold exactly the output of the released epochs, byte for byte,
 * and nothing of a later one. A proxy that let out one epoch too many (or too few) fails here.
 *
 * <p>Before each SEAL the test waits until the proxy has read every byte written so far ({@link ProxyStats#outputBytes}):
 * bytes still in the kernel at a seal are tagged with the next epoch, which is safe for output commit but would blur
 * the boundary this test checks. The primary has the same guarantee for what the proxy read before its SEAL, sent
 * while the service is frozen.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class EpochByEpochReleaseTest {
    private static final Duration T = Duration.ofSeconds(5);
    private static final InetSocketAddress ANY = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
    private static final int CONNECTIONS = 3;
    private static final int EPOCHS = 8;
    /** How long nothing more may arrive after a release's output: longer than any loopback delivery. */
    private static final long QUIET_MS = 250;

    private final List<AutoCloseable> resources = new ArrayList<>();
    private BufferProxy proxy;
    private ProxyControlClient control;

    @AfterEach
    void closeEverything() throws Exception {
        for (int i = resources.size() - 1; i >= 0; i--) resources.get(i).close();
    }

    @Test
    void eachReleaseLetsOutExactlyTheOutputOfTheReleasedEpochs() throws Exception {
        TestService service = add(new TestService());
        proxy = add(BufferProxy.start(ProxyConfig.builder().listen(ANY).control(ANY).upstream(service.address())
                .channelKey(ChannelKey.insecurePlaintext()).build()));
        control = add(ProxyControlClient.connect(proxy.controlAddress(), ChannelKey.insecurePlaintext(), T));
        Socket[] clients = new Socket[CONNECTIONS];
        Socket[] services = new Socket[CONNECTIONS];
        for (int c = 0; c < CONNECTIONS; c++) {
            clients[c] = add(new Socket());
            clients[c].connect(proxy.listenAddress(), 5_000);
            clients[c].setSoTimeout(5_000);
            services[c] = service.accept(); // the proxy connects upstream as each client arrives, in order
        }

        // output[c][e]: what the service writes to connection c in epoch e; epoch EPOCHS stays open (never sealed)
        Random random = new Random(20261206);
        byte[][][] output = new byte[CONNECTIONS][EPOCHS + 1][];
        long written = 0;
        for (int e = 0; e <= EPOCHS; e++) {
            for (int c = 0; c < CONNECTIONS; c++) {
                // some epochs are silent on some connections; one is larger than a single read of the event loop
                int len = (e + c) % 4 == 3 ? 0 : e == 2 && c == 1 ? 200_000 : 1 + random.nextInt(3_000);
                output[c][e] = new byte[len];
                random.nextBytes(output[c][e]);
                services[c].getOutputStream().write(output[c][e]);
                services[c].getOutputStream().flush();
                written += len;

                // input is not held: it reaches the service at once, whatever is sealed or released
                byte[] in = ("in " + c + " " + e + "\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII);
                clients[c].getOutputStream().write(in);
                clients[c].getOutputStream().flush();
                assertThat(services[c].getInputStream().readNBytes(in.length)).as("input of conn %d epoch %d", c, e)
                        .isEqualTo(in);
            }
            long all = written;
            awaitStats(s -> s.outputBytes() == all, "the proxy read epoch " + e + "'s output");
            if (e < EPOCHS) control.seal(1, e, T);
        }
        assertThat(proxy.stats().outputBytesAtSeal()).hasSize(EPOCHS);
        for (Socket c : clients) assertQuiet(c, "before any release");

        ByteArrayOutputStream[] received = new ByteArrayOutputStream[CONNECTIONS];
        for (int c = 0; c < CONNECTIONS; c++) received[c] = new ByteArrayOutputStream();
        for (int e = 0; e < EPOCHS; e++) {
            control.release(1, e);
            control.sync(T);
            long expectedReleased = 0;
            for (int c = 0; c < CONNECTIONS; c++) {
                byte[] want = concat(output[c], e);
                received[c].writeBytes(clients[c].getInputStream().readNBytes(want.length - received[c].size()));
                assertThat(received[c].toByteArray()).as("conn %d after RELEASE %d: the output of epochs 0..%d", c, e, e)
                        .isEqualTo(want);
                expectedReleased += want.length;
            }
            Thread.sleep(QUIET_MS);
            for (int c = 0; c < CONNECTIONS; c++) {
                assertThat(clients[c].getInputStream().available())
                        .as("conn %d after RELEASE %d: bytes of a later epoch reached the client", c, e).isZero();
            }
            ProxyStats s = proxy.stats();
            assertThat(s.releasedBytes()).as("released bytes after RELEASE %d", e).isEqualTo(expectedReleased);
            assertThat(s.outputBytesAtSeal().get((long) e)).as("output tagged up to epoch %d", e).isEqualTo(expectedReleased);
            assertThat(s.heldBytes()).isEqualTo(written - expectedReleased);
        }
        // the open epoch's output is still held and never escaped
        assertThat(proxy.stats().heldBytes()).isEqualTo(Arrays.stream(output).mapToLong(o -> o[EPOCHS].length).sum());
    }

    /** The output of epochs 0..{@code last} of one connection, in order. */
    private static byte[] concat(byte[][] epochs, int last) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (int e = 0; e <= last; e++) b.writeBytes(epochs[e]);
        return b.toByteArray();
    }

    private static void assertQuiet(Socket client, String when) throws IOException, InterruptedException {
        Thread.sleep(QUIET_MS);
        InputStream in = client.getInputStream();
        assertThat(in.available()).as("output reached a client %s", when).isZero();
    }

    private void awaitStats(Predicate<ProxyStats> condition, String what) throws InterruptedException {
        ProxyStatsWait.awaitStats(proxy, condition, what);
    }

    private <T extends AutoCloseable> T add(T resource) {
        resources.add(resource);
        return resource;
    }
}
