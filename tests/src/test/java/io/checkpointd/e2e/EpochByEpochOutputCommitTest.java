package io.checkpointd.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.demo.Cluster;
import io.checkpointd.protocol.status.Json;
import io.checkpointd.restore.BackupFaults;
import io.checkpointd.restore.receive.AckMode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Timeout;

/**
 * Output commit one ack at a time, end to end: the backup may acknowledge only up to an epoch the test sets (the
 * fault point {@link BackupFaults#ACK_UP_TO_FILE_PROPERTY}) while a client streams requests to the demo service
 * through the proxy. After each single ack, the client must have received exactly the service output of the
 * acknowledged epochs: as many bytes as the proxy had read from the service when it sealed that epoch (its status'
 * {@code outputBytesAtSeal}), and not one byte of a later epoch, however long it waits. The bytes themselves must
 * be the service's deterministic replies, in order, and all of them arrive once acks flow freely again.
 */
class EpochByEpochOutputCommitTest extends E2eTest {
    private static final int STEPS = 12;
    private static final int MAX_IN_FLIGHT = 4;
    /** How long nothing more may arrive after a release's output: well over a status period and a loopback delivery. */
    private static final long QUIET_MS = 500;
    private static final Duration STEP_TIMEOUT = Duration.ofSeconds(15);

    @ParameterizedTest(name = "ack {0}")
    @EnumSource(AckMode.class)
    @Timeout(240)
    void eachAckReleasesExactlyTheOutputOfTheAcknowledgedEpochs(AckMode ack) throws Exception {
        Path upTo = tmp.resolve("ack-up-to");
        Cluster.Options opts = Cluster.Options.of(tmp.resolve("cluster")).withEpoch(Duration.ofMillis(50))
                .withDaemonArgs("backup", List.of("--ack", ack.toString()))
                .withBackupJvmArgs(List.of("-D" + BackupFaults.ACK_UP_TO_FILE_PROPERTY + "=" + upTo))
                .withProtectArgs(List.of("--max-in-flight", Integer.toString(MAX_IN_FLIGHT)));
        try (Cluster c = Cluster.start(opts);
             Socket s = new Socket(c.proxyAddress().getAddress(), c.proxyAddress().getPort())) {
            s.setTcpNoDelay(true);
            Received received = new Received(s.getInputStream());
            received.start();
            StringBuffer expected = new StringBuffer();
            OutputStream out = s.getOutputStream();
            // a round trip while acks flow: the proxy works
            expected.append("PONG\n");
            out.write("PING\n".getBytes(StandardCharsets.US_ASCII));
            received.awaitAtLeast(5, Duration.ofSeconds(10));

            // the service answers a stream of requests; its output spreads over the epochs from here on
            Requests requests = new Requests(out, expected);
            requests.start();
            try {
                Thread.sleep(300);
                setUpTo(upTo, -1); // from here on, nothing more is acknowledged until the test says so
                Json base = awaitStalled(c);
                long r0 = (Long) base.get("lastReleasedEpoch");
                long s0 = atSeal(base, r0);
                Thread.sleep(QUIET_MS); // what was released before the stall has arrived
                long c0 = received.size();
                assertPrefix(received.bytes(), expected, "at the stall: proxy " + base);
                long released = r0;
                long lastAtSeal = s0;
                int withOutput = 0;
                int withLaterOutputHeld = 0;
                for (int step = 1; step <= STEPS; step++) {
                    long k = nextSealed(c, released); // an epoch whose seal failed has no ack to wait for
                    setUpTo(upTo, k);
                    Json p = awaitReleased(c, k);
                    assertThat((Long) p.get("lastReleasedEpoch")).as("step %d: released beyond the ack of %d", step, k)
                            .isEqualTo(k);
                    long atK = atSeal(p, k);
                    long want = c0 + atK - s0;
                    received.awaitAtLeast(want, Duration.ofSeconds(10));
                    Thread.sleep(QUIET_MS);
                    Json after = c.status("proxy").orElseThrow();
                    String ctx = "step " + step + ", epoch " + k + ": proxy " + after;
                    assertThat(after.get("lastReleasedEpoch")).as(ctx).isEqualTo(k);
                    assertThat(received.size()).as("client bytes after the ack of epoch %d: exactly the output of epochs <= %d; %s",
                            k, k, ctx).isEqualTo(want);
                    assertPrefix(received.bytes(), expected, ctx);
                    if (atK > lastAtSeal) withOutput++;
                    if (((Number) after.get("heldBytes")).longValue() > 0) withLaterOutputHeld++;
                    lastAtSeal = atK;
                    released = k;
                }
                // the check had something to tell apart: output in the released epochs and output held behind them
                assertThat(withOutput).as("steps whose epoch carried output").isGreaterThanOrEqualTo(STEPS / 2);
                assertThat(withLaterOutputHeld).as("steps with later output held back").isGreaterThanOrEqualTo(STEPS / 2);
            } finally {
                requests.finish();
            }
            assertThat(requests.error.get()).isNull();

            Files.delete(upTo); // acks flow again: everything the service said arrives, complete and in order
            byte[] all = expected.toString().getBytes(StandardCharsets.US_ASCII);
            received.awaitAtLeast(all.length, Duration.ofSeconds(30));
            Thread.sleep(QUIET_MS);
            assertThat(received.bytes()).isEqualTo(all);
            assertThat(received.error.get()).isNull();
        }
    }

    /** Waits until the primary waits for acks with its window full and the proxy's release no longer moves. */
    private static Json awaitStalled(Cluster c) throws Exception {
        long deadline = System.nanoTime() + STEP_TIMEOUT.toNanos();
        List<Object> last = null;
        while (System.nanoTime() - deadline < 0) {
            Json primary = c.status("primary").orElseThrow();
            Json proxy = c.status("proxy").orElseThrow();
            List<Object> now = java.util.Arrays.asList(primary.get("lastAckedEpoch"), proxy.get("lastReleasedEpoch"));
            if (primary.get("inFlight") instanceof Long f && f == MAX_IN_FLIGHT) {
                if (now.equals(last)) { // both published twice the same: settled
                    assertThat(proxy.get("lastReleasedEpoch")).as("released at the stall: the last acknowledged epoch; primary "
                            + primary + ", proxy " + proxy).isEqualTo(primary.get("lastAckedEpoch"));
                    return proxy;
                }
                last = now;
            } else {
                last = null;
            }
            Thread.sleep(300);
        }
        throw new AssertionError("the primary did not stall on held acks within " + STEP_TIMEOUT + "; " + c.status("primary"));
    }

    /** The first epoch after {@code epoch} that the proxy has sealed (waiting for one). */
    private static long nextSealed(Cluster c, long epoch) throws Exception {
        long deadline = System.nanoTime() + STEP_TIMEOUT.toNanos();
        while (System.nanoTime() - deadline < 0) {
            Json seals = (Json) c.status("proxy").orElseThrow().get("outputBytesAtSeal");
            long next = seals.fields().keySet().stream().mapToLong(Long::parseLong).filter(e -> e > epoch).min().orElse(-1);
            if (next >= 0) return next;
            Thread.sleep(20);
        }
        throw new AssertionError("no epoch after " + epoch + " sealed within " + STEP_TIMEOUT + "; primary " + c.status("primary"));
    }

    /** The proxy's status once it released {@code epoch} (or more: the caller checks). */
    private static Json awaitReleased(Cluster c, long epoch) throws Exception {
        long deadline = System.nanoTime() + STEP_TIMEOUT.toNanos();
        while (System.nanoTime() - deadline < 0) {
            Json proxy = c.status("proxy").orElseThrow();
            if ((Long) proxy.get("lastReleasedEpoch") >= epoch) return proxy;
            Thread.sleep(20);
        }
        throw new AssertionError("epoch " + epoch + " not released within " + STEP_TIMEOUT + "; proxy "
                + c.status("proxy") + ", primary " + c.status("primary"));
    }

    /** The service output the proxy had read (this generation) when it sealed {@code epoch}. */
    private static long atSeal(Json proxy, long epoch) {
        Object v = ((Json) proxy.get("outputBytesAtSeal")).get(Long.toString(epoch));
        assertThat(v).as("proxy recorded the seal of epoch %d: %s", epoch, proxy).isInstanceOf(Long.class);
        return (Long) v;
    }

    private static void assertPrefix(byte[] got, StringBuffer expected, String ctx) {
        String want = expected.toString();
        assertThat(got.length).as("more replies than requests; " + ctx).isLessThanOrEqualTo(want.length());
        assertThat(new String(got, StandardCharsets.US_ASCII)).as("the service's replies, in order; " + ctx)
                .isEqualTo(want.substring(0, got.length));
    }

    private static void setUpTo(Path file, long epoch) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, Long.toString(epoch));
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** Everything the client received, collected by a thread of its own. */
    private static final class Received extends Thread {
        private final InputStream in;
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final AtomicReference<Throwable> error = new AtomicReference<>();

        Received(InputStream in) {
            super("client-reader");
            setDaemon(true);
            this.in = in;
        }

        @Override
        public void run() {
            byte[] buf = new byte[8192];
            try {
                int n;
                while ((n = in.read(buf)) > 0) {
                    synchronized (bytes) {
                        bytes.write(buf, 0, n);
                    }
                }
            } catch (IOException e) {
                error.compareAndSet(null, e); // the socket closes at the end of the test
            }
        }

        long size() {
            synchronized (bytes) {
                return bytes.size();
            }
        }

        byte[] bytes() {
            synchronized (bytes) {
                return bytes.toByteArray();
            }
        }

        void awaitAtLeast(long n, Duration max) throws InterruptedException {
            long deadline = System.nanoTime() + max.toNanos();
            while (size() < n) {
                if (System.nanoTime() - deadline > 0) {
                    throw new AssertionError("client received " + size() + " bytes, expected at least " + n + " within " + max);
                }
                Thread.sleep(5);
            }
        }
    }

    /**
     * Streams PUT/GET pairs on unique keys every few milliseconds, recording each reply the service will give
     * (the demo service's replies are deterministic) before sending the request.
     */
    private static final class Requests extends Thread {
        private final OutputStream out;
        private final StringBuffer expected;
        private final AtomicBoolean stop = new AtomicBoolean();
        final AtomicReference<Throwable> error = new AtomicReference<>();

        Requests(OutputStream out, StringBuffer expected) {
            super("client-requests");
            setDaemon(true);
            this.out = out;
            this.expected = expected;
        }

        @Override
        public void run() {
            try {
                for (int i = 0; !stop.get(); i++) {
                    String req;
                    if (i % 2 == 0) {
                        req = "PUT ebe" + i / 2 + " v" + i / 2 + "\n";
                        expected.append("OK\n");
                    } else {
                        req = "GET ebe" + i / 2 + "\n";
                        expected.append("VALUE v").append(i / 2).append('\n');
                    }
                    out.write(req.getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    Thread.sleep(4);
                }
            } catch (IOException | InterruptedException e) {
                error.set(e);
            }
        }

        void finish() throws InterruptedException {
            stop.set(true);
            join(5_000);
        }
    }
}
