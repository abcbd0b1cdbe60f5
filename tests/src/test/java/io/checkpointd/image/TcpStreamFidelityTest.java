package io.checkpointd.image;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.linux.criu.Criu;
import io.checkpointd.linux.criu.DumpOptions;
import io.checkpointd.linux.criu.TcpMode;
import io.checkpointd.linux.freezer.Freezer;
import io.checkpointd.linux.proc.ProcFiles;
import io.checkpointd.primary.engine.fds.TcpStreams;
import io.checkpointd.protocol.image.ImageFile;
import io.checkpointd.protocol.image.TcpStreamImage;
import io.checkpointd.protocol.image.criu.Fdinfo.fd_types;
import io.checkpointd.protocol.image.criu.Fdinfo.file_entry;
import io.checkpointd.protocol.image.criu.SkInet.inet_sk_entry;
import io.checkpointd.protocol.image.criu.TcpStream.tcp_stream_entry;
import com.google.protobuf.TextFormat;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The engine's read of TCP connections' repair state ({@link TcpStreams}) against {@code criu dump --tcp-established}
 * of the same frozen process, read first by the engine (which leaves repair mode without a window probe), then by
 * CRIU: every {@code tcp-stream-<ino>.img} CRIU writes must be the engine's, entry field by field and queue byte by
 * byte, but for the timestamp clock, which runs on between the two reads; and CRIU's {@code inet_sk_entry} must have
 * the state the engine read, and the accepted ends still their listener's {@code SO_REUSEADDR}. {@link TcpStreamTarget} holds unread received bytes, a send queue held back by a full
 * window, and a half-closed IPv6 connection.
 */
class TcpStreamFidelityTest extends DetachedTargetTest {
    private static final int FILES_MAGIC = 0x56303138;

    @Test
    @Timeout(120)
    void streamsEqualCriusTcpEstablishedDump() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("target"));
        int pid = targets.startJava(TcpStreamTarget.class, dir.toString());
        DetachedTargets.awaitFile(dir.resolve("ready"), pid);
        Criu criu = Criu.locate();
        Path truth = Files.createDirectory(tmp.resolve("truth"));
        Map<Long, TcpStreams.Stream> ours;
        long readAt, dumpedAt;
        try (Freezer freezer = Freezer.forProcess(pid); TcpStreams reader = new TcpStreams(pid)) {
            freezer.freeze(Duration.ofSeconds(10));
            readAt = System.nanoTime();
            TcpStreams.Result r = reader.read(ProcFiles.fds(pid), null);
            assertThat(r.why()).as("every connection readable").isNull();
            ours = r.streams();
            // read twice: the second read reuses unchanged queues and must give the same images (the clock aside)
            TcpStreams.Result again = reader.read(ProcFiles.fds(pid), null);
            assertThat(again.streams().keySet()).isEqualTo(ours.keySet());
            for (long ino : ours.keySet()) {
                assertThat(withoutClock(again.streams().get(ino).image())).as("a second read of " + ino).isEqualTo(withoutClock(ours.get(ino).image()));
            }
            criu.dump(DumpOptions.builder(pid, truth).leaveRunning(true).tcpMode(TcpMode.ESTABLISHED).networkLock(false)
                    .skipInFlight(true).freezeCgroup(freezer.cgroup().toString()).fileLocks(true).logFile("dump.log").build());
            dumpedAt = System.nanoTime();
            freezer.thaw();
        }
        Map<String, byte[]> theirs = new TreeMap<>();
        try (var ds = Files.newDirectoryStream(truth, "tcp-stream-*.img")) {
            for (Path p : ds) theirs.put(p.getFileName().toString(), Files.readAllBytes(p));
        }
        Map<String, TcpStreams.Stream> byName = new TreeMap<>();
        for (TcpStreams.Stream s : ours.values()) byName.put(TcpStreamImage.name(s.ino()), s);
        assertThat(byName.keySet()).as("connections with a stream").isEqualTo(theirs.keySet());
        assertThat(theirs).as("connections compared").hasSizeGreaterThanOrEqualTo(6);

        Map<Long, inet_sk_entry> inet = inetEntries(truth);
        java.util.Set<Integer> listening = new java.util.HashSet<>();
        for (inet_sk_entry ie : inet.values()) if (ie.getState() == 10) listening.add(ie.getSrcPort());
        long maxTicks = (dumpedAt - readAt) / 1_000_000 + 1000; // the clock ticks in ms
        int inqs = 0, outqs = 0, fins = 0, reused = 0;
        for (Map.Entry<String, byte[]> e : theirs.entrySet()) {
            TcpStreams.Stream s = byName.get(e.getKey());
            TcpStreamImage mine = s.image(), crius = TcpStreamImage.parse(e.getValue());
            tcp_stream_entry a = mine.entry(), b = crius.entry();
            String what = e.getKey() + " (state " + s.state() + ")";
            inet_sk_entry ie = inet.get(s.ino());
            assertThat(ie.getState()).as(what + " inet_sk_entry state").isEqualTo(s.state());
            if (listening.contains(ie.getSrcPort())) {
                // accepted from a Java listener (SO_REUSEADDR on): the kernel clears it when repair goes off
                assertThat(ie.getOpts().getReuseaddr()).as(what + " SO_REUSEADDR after the engine's read").isTrue();
                reused++;
            }
            if (b.hasTimestamp()) {
                long d = Integer.toUnsignedLong(b.getTimestamp()) - Integer.toUnsignedLong(a.getTimestamp());
                assertThat(d).as(what + " timestamp: CRIU's read is later by less than the time between the reads").isBetween(0L, maxTicks);
                a = a.toBuilder().setTimestamp(0).build();
                b = b.toBuilder().setTimestamp(0).build();
            }
            assertThat(TextFormat.printer().printToString(a)).as(what).isEqualTo(TextFormat.printer().printToString(b));
            assertThat(a.toByteArray()).as(what + " entry bytes").isEqualTo(b.toByteArray());
            assertThat(mine.inq()).as(what + " receive queue").isEqualTo(crius.inq());
            assertThat(mine.outq()).as(what + " send queue").isEqualTo(crius.outq());
            if (crius.inq().length > 0) inqs++;
            if (crius.outq().length > 0) outqs++;
            if (s.state() != 1) fins++;
        }
        assertThat(inqs).as("connections with received bytes").isGreaterThanOrEqualTo(3);
        assertThat(outqs).as("connections with a send queue").isGreaterThanOrEqualTo(1);
        assertThat(fins).as("half-closed ends").isEqualTo(2);
        assertThat(reused).as("accepted ends checked for SO_REUSEADDR").isEqualTo(3);
        System.out.printf("tcp stream fidelity: %d streams equal CRIU's (%d with received bytes, %d with a send queue, %d half-closed)%n",
                theirs.size(), inqs, outqs, fins);
    }

    /** The image's bytes with its timestamp clock zeroed. */
    private static byte[] withoutClock(TcpStreamImage t) {
        tcp_stream_entry e = t.entry();
        if (e.hasTimestamp()) e = e.toBuilder().setTimestamp(0).build();
        return TcpStreamImage.of(e, t.inq(), t.outq()).encode();
    }

    /** Each inet socket's {@code inet_sk_entry} in CRIU's {@code files.img}, by inode. */
    private static Map<Long, inet_sk_entry> inetEntries(Path images) throws Exception {
        ImageFile img = ImageFile.parse(Files.readAllBytes(images.resolve("files.img")), FILES_MAGIC);
        Map<Long, inet_sk_entry> out = new TreeMap<>();
        for (int i = 0; i < img.entryCount(); i++) {
            file_entry fe = img.message(i, file_entry.parser());
            if (fe.getType() == fd_types.INETSK && fe.hasIsk()) out.put(Integer.toUnsignedLong(fe.getIsk().getIno()), fe.getIsk());
        }
        return out;
    }
}
