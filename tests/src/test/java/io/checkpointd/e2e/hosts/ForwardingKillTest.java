package io.checkpointd.e2e.hosts;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.primary.PrimaryFaults;
import io.checkpointd.protocol.status.Json;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 16's forwarding service: a protected {@link ForwardingService} forwards each numbered request of a client
 * to an outside {@link LineSink} over its own outbound TCP connection, which leaves from the service's own address
 * ({@code --hold packets} with address takeover). The primary is killed at each of the four kill points of an epoch
 * (protect SIGKILLs the service and itself there); once the backup has taken over, the rest of the host fails too
 * (cable cut, every process killed), so the address lives only on the backup host. Then:
 * <ul>
 * <li>the sink's one connection goes on: it never ended, no second connection came, and its lines are exactly
 * requests 1..N in order (no gap, no duplicate), N the client's last request;</li>
 * <li>the sink never got bytes from an epoch the backup lacks: every line it got (with the stamp of the forward, which
 * a replay cannot reproduce) is the line the restored service holds as sent, in particular every number it got
 * before the failover;</li>
 * <li>the client's own connection goes on too: the killed service's socket, closed with unread input, is reset and
 * gone, and the primary host's kernel answers the client's next segment with a reset from no socket; protect holds
 * every packet from the service address ({@code protect --service-address}), and with protect dead its queue drops
 * them, so the client never sees that reset.</li>
 * </ul>
 * (The client can connect again and go on from the request the service expects next, so that a break shows as a
 * figure and a failed assertion rather than a stuck run.)
 */
class ForwardingKillTest extends HostTest {
    /** Requests answered by the restored service before the run ends. */
    private static final int AFTER = 300;

    private LineSink sink;

    @ParameterizedTest(name = "killed {0}")
    @EnumSource(PrimaryFaults.KillPoint.class)
    @Timeout(150)
    void theSinkGetsOneStreamWithNothingTheBackupLacks(PrimaryFaults.KillPoint point) throws Exception {
        Path arm = tmp.resolve("kill-arm");
        HoldCluster.Setup setup = new HoldCluster.Setup(ForwardingService.class.getName(), c -> {
            sink = new LineSink(c.hosts().testAddress());
            return List.of("--sink", sink.address(), "--bind", c.serviceIp());
        }, true, List.of("-D" + PrimaryFaults.KILL_AT_PROPERTY + "=" + point.spelling() + ":" + arm), List.of(), false);
        long armAfterMs = 300 + new Random().nextInt(700);
        try (HoldCluster c = HoldCluster.start(tmp, Duration.ofSeconds(1), setup);
             NumberClient client = new NumberClient(new InetSocketAddress(c.serviceIp(), HoldCluster.SERVICE_PORT))) {
            try {
                assertThat(client.awaitAnswered(100, Duration.ofSeconds(30))).as("answers before the fault; " + client.error() + c.logs()).isTrue();
                Thread.sleep(armAfterMs);
                Files.createFile(arm);
                assertThat(c.protect().waitFor(Duration.ofSeconds(20))).as("protect killed itself at " + point + c.logs()).isEqualTo(137);
                long killedAt = System.nanoTime();
                LineSink.Stream atKill = sink.stream(0);
                long answeredAtKill = client.answered();
                Json backup = c.awaitFailover(Duration.ofSeconds(60));
                c.primaryHost().cutOff(); // the rest of the host fails: the address now lives on the backup host only
                c.primaryHost().kill();
                String where = Files.readString(Path.of(arm + ".epoch"));
                String ctx = "killed at " + where + " after " + atKill.lines.size() + " lines at the sink, " + answeredAtKill
                        + " answers; backup " + backup + c.logs();
                assertThat(client.awaitAnswered(answeredAtKill + AFTER, Duration.ofSeconds(60)))
                        .as("the restored service answers on the same connection; " + client.error() + "; " + ctx).isTrue();
                long last = client.stopWriting();
                List<String> held = client.heldLines(last, Duration.ofSeconds(30));
                assertThat(client.error()).as("the client's answers; " + ctx).isNull();
                LineSink.Stream s = awaitLines(last, Duration.ofSeconds(30));
                assertThat(sink.connections()).as("connections the sink accepted; " + ctx).isEqualTo(1);
                assertThat(s.from).isEqualTo(c.serviceIp());
                assertThat(s.end).as("the sink's stream did not end; " + ctx).isEmpty();
                List<String> got = s.lines.stream().map(LineSink.Line::text).toList();
                assertConsecutive(got, last, ctx);
                long beforeMax = atKill.lines.isEmpty() ? 0 : number(atKill.lines.get(atKill.lines.size() - 1).text());
                long firstLacking = firstDifference(got, held);
                assertThat(firstLacking).as("the first line the sink got that the restored service does not hold as sent "
                        + "(the sink got " + beforeMax + " before the failover); " + ctx).isEqualTo(-1);
                assertThat(held).as(ctx).hasSize(got.size());
                Json f = (Json) backup.get("failover");
                List<String> breaks = client.breaks().stream().map(b -> (b.nanos() - killedAt) / 1_000_000 + " ms after the kill: " + b.why()).toList();
                assertThat(breaks).as("the client's connection to the service broke; " + ctx).isEmpty();
                System.out.printf("forwarding kill at %s: %d lines at the sink before the failover, %d in all on one connection; "
                        + "failover %s ms; client connection breaks: %s%n", where, atKill.lines.size(), got.size(), f.get("failoverMs"), breaks);
            } finally {
                if (sink != null) sink.close();
            }
        }
    }

    private LineSink.Stream awaitLines(long n, Duration max) throws InterruptedException {
        long until = System.nanoTime() + max.toNanos();
        LineSink.Stream s = sink.stream(0);
        while (s.lines.size() < n && System.nanoTime() < until) {
            Thread.sleep(20);
            s = sink.stream(0);
        }
        return s;
    }

    /** The lines are requests 1..last, each once, in order. */
    private static void assertConsecutive(List<String> lines, long last, String ctx) {
        List<String> wrong = new ArrayList<>();
        for (int i = 0; i < lines.size() && wrong.size() < 5; i++) {
            if (number(lines.get(i)) != i + 1) wrong.add("line " + (i + 1) + " is " + lines.get(i));
        }
        assertThat(wrong).as("gaps or duplicates at the sink; " + ctx).isEmpty();
        assertThat((long) lines.size()).as("requests at the sink; " + ctx).isEqualTo(last);
    }

    /** The number of the first line where {@code a} and {@code b} differ, -1 if none. */
    private static long firstDifference(List<String> a, List<String> b) {
        for (int i = 0; i < Math.min(a.size(), b.size()); i++) {
            if (!a.get(i).equals(b.get(i))) return i + 1;
        }
        return -1;
    }

    private static long number(String line) {
        return Long.parseLong(line.substring(0, line.indexOf(' ')));
    }
}
