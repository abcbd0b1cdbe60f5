package io.checkpointd.restore.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.checkpointd.protocol.image.Pagemap;
import io.checkpointd.protocol.replication.EpochBegin;
import io.checkpointd.protocol.replication.EpochEnd;
import io.checkpointd.protocol.replication.EpochRecord;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A peer's pagemap declares how many pages the image's pages file holds; the store must not believe more pages
 * than were sent: repeating one present run would make the committed image (and every materialize) as large as
 * the peer likes while shipping a few pages.
 */
class PagemapBoundsTest {
    @TempDir
    Path tmp;

    @Test
    void overlappingPresentRunsAreRejected() throws Exception {
        ImageStore store = ImageStore.open(tmp.resolve("store"));
        try {
            long vaddr = 0x10000;
            // 2 pages with data, declared 10 000 times: a 80 MB pages file out of 8 KiB sent
            List<Pagemap.Run> runs = new ArrayList<>(Collections.nCopies(10_000, new Pagemap.Run(vaddr, 2, Pagemap.PE_PRESENT, 0)));
            Pagemap pm = Pagemap.of(1, runs);
            byte[] pmBytes = pm.encode();
            List<EpochRecord> recs = List.of(new EpochRecord.FileChunk("pagemap-1.img", pmBytes.length, 0, pmBytes),
                    new EpochRecord.PageDelta("pagemap-1.img", new long[] {vaddr, vaddr + 4096}, new byte[2 * 4096]));
            Map<String, Long> manifest = Map.of("pagemap-1.img", (long) pmBytes.length, "pages-1.img", pm.presentPages() * 4096);
            ImageStore.EpochWriter w = store.begin(1, 1, new EpochBegin(EpochBegin.FULL, 0, 0));
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (EpochRecord r : recs) {
                w.add(r.encode());
                md.update(r.encode());
            }
            assertThatThrownBy(() -> w.commit(new EpochEnd(recs.size(), md.digest(), manifest)))
                    .isInstanceOf(EpochRejectedException.class).hasMessageContaining("present runs overlap");
            assertThat(store.committedEpoch()).isEqualTo(-1);
        } finally {
            store.close();
        }
    }
}
