package io.checkpointd.protocol.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.checkpointd.protocol.image.CoreImage;
import io.checkpointd.protocol.image.ImageFile;
import io.checkpointd.protocol.image.MmImage;
import io.checkpointd.protocol.image.Pagemap;
import java.io.IOException;
import java.util.Arrays;

/**
 * The CRIU image readers on a file's bytes (images arrive from the primary as file chunks): selector (mod 4) picks
 * {@link ImageFile}, {@link Pagemap}, {@link CoreImage} or {@link MmImage}. The only allowed failure is an
 * {@link IOException}; the documented round trips must hold for whatever parses. Byte identity holds for images as
 * CRIU writes them (fields in number order, minimal varints); arbitrary input that parses is re-encoded canonically,
 * and that canonical form must be a fixed point.
 */
class ImageFuzzTest {
    @FuzzTest(maxDuration = Fuzz.BUDGET)
    void parse(byte[] data) throws IOException {
        byte[] x = Fuzz.body(data);
        try {
            switch (Fuzz.selector(data) % 4) {
                case 0 -> {
                    int magic = x.length >= 8 ? ImageFile.PAGEMAP_MAGIC : ImageFile.INVENTORY_MAGIC;
                    ImageFile f = ImageFile.parse(x, magic);
                    Fuzz.check(Arrays.equals(x, f.encode()), "ImageFile round trip");
                }
                case 1 -> pagemap(x);
                case 2 -> {
                    CoreImage c = CoreImage.parse(x);
                    byte[] canonical = c.encode();
                    CoreImage again = CoreImage.parse(canonical);
                    Fuzz.check(again.message().equals(c.message()), "CoreImage round trip");
                    Fuzz.check(Arrays.equals(canonical, again.encode()), "CoreImage canonical encoding");
                }
                default -> mm(x);
            }
        } catch (IOException e) {
            // the documented way to refuse an image
        }
    }

    private static void pagemap(byte[] x) throws IOException {
        Pagemap p = Pagemap.parse(x);
        long present = 0;
        for (Pagemap.Run r : p.runs()) {
            Fuzz.check(r.nrPages() >= 0 && r.vaddr() % Pagemap.PAGE_SIZE == 0, "accepted run " + r);
            if (r.present()) {
                Fuzz.check(r.dataIndex() == present, "data index of " + r);
                present += r.nrPages();
            }
        }
        Fuzz.check(present == p.presentPages(), "present page count");
        Pagemap q = Pagemap.parse(p.encode());
        Fuzz.check(q.runs().equals(p.runs()) && q.pagesId() == p.pagesId(), "Pagemap round trip");
    }

    private static void mm(byte[] x) throws IOException {
        MmImage m = MmImage.parse(x);
        MmImage again = MmImage.parse(m.encode());
        Fuzz.check(again.message().equals(m.message()) && Arrays.equals(m.encode(), again.encode()), "MmImage round trip");
        MmImage same;
        try {
            same = m.withVmas(m.vmas());
        } catch (IllegalArgumentException e) {
            return; // unsorted VMAs: parse keeps them, withVmas documents refusing them
        }
        // byte identity holds for what CRIU writes; a VMA with unknown fields or odd encodings is rewritten canonically
        Fuzz.check(MmImage.parse(same.encode()).vmas().equals(m.vmas()), "MmImage withVmas(vmas()) round trip");
    }
}
