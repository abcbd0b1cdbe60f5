package io.checkpointd.e2e.hosts;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.demo.disk.AppendService;
import io.checkpointd.demo.disk.LineClient;
import io.checkpointd.demo.hosts.HostCluster;
import io.checkpointd.primary.capture.disk.Trees;
import io.checkpointd.protocol.status.Json;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Every kind of change to a data dir through the real path — the primary's watcher and tracker, the wire, the
 * backup's store (log, fold), and the failover's materialize — each in an epoch of its own: create, overwrite in
 * place, truncate, extend, rename (file and directory), delete, create-then-delete within one epoch, mode
 * changes, symlinks, and a 3 GiB sparse file with scattered small writes, of which only the touched blocks may
 * ship. The changes are made in the primary host's storage (the service's data dir there); after the primary
 * host is killed, the backup host's storage, where the restored service runs, must be identical to it.
 */
class DataDirOpsTest extends HostTest {
    @Test
    @Timeout(180)
    void everyKindOfChangeReplicatesThroughTheStoreAndFailover() throws Exception {
        Random rnd = new Random(17);
        try (HostCluster c = HostCluster.start(HostCluster.Options.of(tmp).withService(AppendService.class.getName(), tmp.resolve("data")))) {
            Path p = c.dataDirOf(c.primaryHost());
            Path a = p.resolve("dir1/a"), b = p.resolve("b");

            Files.createDirectories(p.resolve("dir1/sub"));
            Files.write(a, bytes(rnd, 100_000));
            Files.write(b, bytes(rnd, 50_000));
            Files.createSymbolicLink(p.resolve("link"), Path.of("dir1/a"));
            Files.createSymbolicLink(p.resolve("dangling"), Path.of("/nowhere"));
            awaitEpochAfterNow(c);
            try (RandomAccessFile f = new RandomAccessFile(a.toFile(), "rw")) { // overwrite in place
                f.seek(8192);
                f.write(bytes(rnd, 4096));
            }
            awaitEpochAfterNow(c);
            try (RandomAccessFile f = new RandomAccessFile(b.toFile(), "rw")) { // truncate
                f.setLength(1000);
            }
            awaitEpochAfterNow(c);
            try (RandomAccessFile f = new RandomAccessFile(a.toFile(), "rw")) { // extend: a hole, then data
                f.setLength(1 << 20);
                f.seek((1 << 20) - 10);
                f.write(bytes(rnd, 10));
            }
            awaitEpochAfterNow(c);
            Files.move(a, p.resolve("dir1/a2")); // rename a file, then its directory
            Files.move(p.resolve("dir1"), p.resolve("dir2"));
            Files.delete(p.resolve("link"));
            Files.createSymbolicLink(p.resolve("link"), Path.of("dir2/a2"));
            awaitEpochAfterNow(c);
            Files.delete(b); // delete
            Files.delete(p.resolve("dir2/sub"));
            awaitEpochAfterNow(c);
            Path ephemeral = p.resolve("ephemeral"); // create then delete within one epoch: nothing to see
            Files.write(ephemeral, bytes(rnd, 10_000));
            Files.delete(ephemeral);
            Files.setAttribute(p.resolve("dir2/a2"), "unix:mode", 04750, LinkOption.NOFOLLOW_LINKS); // modes
            Files.setAttribute(p.resolve("dir2"), "unix:mode", 0700, LinkOption.NOFOLLOW_LINKS);
            awaitEpochAfterNow(c);

            // a 3 GiB sparse file, then small scattered writes: only the touched blocks ship, only data is read
            Path big = p.resolve("big.img");
            long size = 3L << 30;
            try (RandomAccessFile f = new RandomAccessFile(big.toFile(), "rw")) {
                f.setLength(size);
                for (int i = 0; i < 8; i++) {
                    f.seek(i * (size / 8));
                    f.write(bytes(rnd, 4096));
                }
            }
            awaitEpochAfterNow(c);
            Json before = dataDirs(c);
            int writes = 32;
            try (RandomAccessFile f = new RandomAccessFile(big.toFile(), "rw")) {
                for (int i = 0; i < writes; i++) {
                    f.seek((rnd.nextLong() & Long.MAX_VALUE) % (size / 4096) * 4096);
                    f.write(bytes(rnd, 4096));
                }
            }
            awaitEpochAfterNow(c);
            Json after = dataDirs(c);
            long shipped = (Long) after.get("totalBytes") - (Long) before.get("totalBytes");
            long read = (Long) after.get("totalBytesRead") - (Long) before.get("totalBytesRead");
            assertThat(shipped).as("only the touched blocks ship (records' bytes before LZ4)")
                    .isBetween((long) writes * 4096, (long) writes * 4096 + 16_384);
            assertThat(read).as("only the file's data extents are read, not its 3 GiB").isLessThan(4L << 20);

            c.killPrimaryHost();
            Json backup = c.awaitFailover(Duration.ofSeconds(60));
            String stat = LineClient.callRetrying(c.proxyAddress(), "STAT", Duration.ofSeconds(20));
            assertThat(stat).as(backup + c.logs()).endsWith(" ok");
            Path q = c.dataDirOf(c.backupHost());
            assertThat(q.resolve("ephemeral")).doesNotExist();
            Trees.assertSame(p, q);
            System.out.printf("data dir ops: sparse step shipped %d bytes, read %d bytes; restored epoch %s%n", shipped, read,
                    ((Json) backup.get("failover")).get("restoredEpoch"));
        }
    }

    private static byte[] bytes(Random rnd, int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    private static Json dataDirs(HostCluster c) throws Exception {
        return (Json) c.status("primary").orElseThrow().get("dataDirs");
    }

    /** Waits until an epoch that started after this call has been acknowledged (see the status's epochs). */
    static void awaitEpochAfterNow(HostCluster c) throws Exception {
        long e = (Long) c.status("primary").orElseThrow().get("lastEpoch");
        // epoch e+1 may have frozen before this call; e+2 freezes after e+1 is published, which is after it
        c.awaitAckedEpoch(e + 2, Duration.ofSeconds(30));
    }
}
