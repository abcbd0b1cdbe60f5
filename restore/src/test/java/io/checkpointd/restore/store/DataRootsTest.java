package io.checkpointd.restore.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.checkpointd.protocol.replication.EpochBegin;
import io.checkpointd.protocol.replication.EpochRecord;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code backup --data-root}: which data dirs a peer may name, checked on arrival and again at failover. */
class DataRootsTest {
    @TempDir
    Path tmp;

    @Test
    void aDirAtOrBelowARootPassesAndNothingElseDoes() throws IOException {
        Path root = Files.createDirectories(tmp.resolve("roots/data"));
        Files.createDirectories(tmp.resolve("roots/data2"));
        DataRoots roots = DataRoots.of(List.of(root));
        assertThatCode(() -> roots.check(root.toString())).doesNotThrowAnyException();
        assertThatCode(() -> roots.check(root + "/svc")).doesNotThrowAnyException(); // need not exist yet
        assertThatCode(() -> roots.check(root + "/svc/deeper")).doesNotThrowAnyException();
        assertRefused(roots, tmp.resolve("roots/data2").toString(), "not under a --data-root"); // a prefix, not a parent
        assertRefused(roots, tmp.resolve("roots").toString(), "not under a --data-root");
        assertRefused(roots, "/etc", "not under a --data-root");
        assertRefused(roots, root + "/../data2", "not an absolute, normalized path");
        assertRefused(roots, root + "/./svc", "not an absolute, normalized path");
        assertRefused(roots, "data/svc", "not an absolute, normalized path");
        assertRefused(roots, "", "not an absolute, normalized path");
    }

    @Test
    void aSymlinkThatLeadsOutOfTheRootIsRefused() throws IOException {
        Path root = Files.createDirectories(tmp.resolve("data"));
        Path outside = Files.createDirectories(tmp.resolve("outside"));
        Files.createSymbolicLink(root.resolve("escape"), outside);
        Files.createSymbolicLink(root.resolve("dangling"), tmp.resolve("nowhere"));
        Path inside = Files.createDirectories(root.resolve("real"));
        Files.createSymbolicLink(root.resolve("alias"), inside);
        DataRoots roots = DataRoots.of(List.of(root));
        assertRefused(roots, root + "/escape", "really " + outside.toRealPath());
        assertRefused(roots, root + "/escape/svc", "not under a --data-root");
        assertRefused(roots, root + "/dangling", "cannot resolve");
        assertThatCode(() -> roots.check(root + "/alias/svc")).doesNotThrowAnyException(); // a link that stays inside
    }

    @Test
    void aRootThatIsALinkIsComparedByWhereItLeads() throws IOException {
        Path real = Files.createDirectories(tmp.resolve("real"));
        Path link = Files.createSymbolicLink(tmp.resolve("link"), real);
        assertThatCode(() -> DataRoots.of(List.of(link)).check(real + "/svc")).doesNotThrowAnyException();
        assertThatCode(() -> DataRoots.of(List.of(real)).check(link + "/svc")).doesNotThrowAnyException();
    }

    @Test
    void withoutARootEveryDataDirIsRefusedAndRootsMustBeAbsolute() {
        assertRefused(DataRoots.NONE, "/srv/data", "no --data-root");
        assertThatThrownBy(() -> DataRoots.of(List.of(Path.of("data")))).hasMessageContaining("absolute");
        assertThatThrownBy(() -> DataRoots.of(List.of(Path.of("/srv/../etc")))).hasMessageContaining("absolute");
    }

    @Test
    void anEpochNamingADirOutsideTheRootsIsRejectedAndNothingIsDeleted() throws Exception {
        Path root = Files.createDirectories(tmp.resolve("data"));
        Path victim = Files.createDirectories(tmp.resolve("victim"));
        Files.writeString(victim.resolve("precious"), "keep me");
        Path storeDir = tmp.resolve("store");
        ImageStore store = ImageStore.open(storeDir, DataRoots.of(List.of(root)));
        commit(store, true, List.of(new EpochRecord.DirRoot(0, root + "/svc"), new EpochRecord.DirCreate(0, "f", 0644)));

        long committed = store.committedEpoch();
        Files.createSymbolicLink(root.resolve("link"), victim);
        for (String hostile : List.of(victim.toString(), root + "/link", tmp.toString())) {
            // a full epoch (the replica would be replaced) and a delta epoch (a dir added) both naming the victim
            for (boolean full : new boolean[] {true, false}) {
                assertThatThrownBy(() -> commit(store, full, List.of(new EpochRecord.DirRoot(0, hostile),
                        new EpochRecord.DirMkdir(0, "x", 0755))))
                        .isInstanceOf(EpochRejectedException.class).hasMessageContaining("refused");
            }
        }
        assertThat(store.committedEpoch()).isEqualTo(committed);
        assertThat(store.dataDirs()).isEqualTo(Map.of(0, root + "/svc"));
        assertThat(Files.readString(victim.resolve("precious"))).isEqualTo("keep me");
        try (var s = Files.list(storeDir.resolve("log"))) {
            assertThat(s.map(p -> p.getFileName().toString()).toList()).containsExactly("epoch-" + committed + ".d");
        }
        store.restoreDataDirs();
        assertThat(root.resolve("svc/f")).exists();
        store.close();
    }

    @Test
    void failoverRefusesACommittedDirOutsideTheRootsBeforeTouchingAny() throws Exception {
        Path wide = Files.createDirectories(tmp.resolve("wide"));
        Path a = Files.createDirectories(wide.resolve("a")), b = Files.createDirectories(wide.resolve("b"));
        Files.writeString(a.resolve("precious"), "a");
        Files.writeString(b.resolve("precious"), "b");
        Path storeDir = tmp.resolve("store");
        ImageStore store = ImageStore.open(storeDir, DataRoots.of(List.of(wide)));
        commit(store, true, List.of(new EpochRecord.DirRoot(0, a.toString()), new EpochRecord.DirRoot(1, b.toString())));
        store.close();
        // the operator narrowed --data-root since: dir 1 may no longer be put back, so neither is
        ImageStore narrowed = ImageStore.open(storeDir, DataRoots.of(List.of(a)));
        assertThatThrownBy(narrowed::restoreDataDirs).hasMessageContaining(b.toString()).hasMessageContaining("not under a --data-root");
        assertThat(Files.readString(a.resolve("precious"))).isEqualTo("a");
        assertThat(Files.readString(b.resolve("precious"))).isEqualTo("b");
        narrowed.close();
    }

    private static void assertRefused(DataRoots roots, String dir, String why) {
        assertThatThrownBy(() -> roots.check(dir)).as(dir).hasMessageContaining("refused").hasMessageContaining(why);
    }

    private static void commit(ImageStore store, boolean full, List<EpochRecord> records) throws IOException {
        long epoch = store.committedEpoch() + 1;
        StoreEpochs.commit(store, 1, epoch, full ? EpochBegin.FULL : store.committedEpoch(), 0,
                records.stream().map(EpochRecord::encode).toList(), Map.of());
    }
}
