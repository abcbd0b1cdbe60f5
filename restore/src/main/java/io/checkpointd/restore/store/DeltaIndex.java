package io.checkpointd.restore.store;

import io.checkpointd.protocol.ProtocolException;
import io.checkpointd.protocol.image.Pagemap;
import io.checkpointd.protocol.replication.EpochRecord;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Where the data of one epoch's records sits in its log file, and how it changes the image: used when an epoch
 * is received (then verified) and when committed log files are replayed at open.
 */
final class DeltaIndex {
    /** Header bytes before a file chunk's data: kind, name (u16 + bytes), total, offset, data length. */
    private static final int FILE_HEADER = 1 + 2 + 8 + 8 + 4;
    /** Header bytes before page data: kind, name (u16 + bytes), count; then 8 bytes of address per page. */
    private static final int PAGES_HEADER = 1 + 2 + 4;

    private final Path logFile;
    private final long epoch;
    private final Map<String, List<ImagePlan.Segment>> chunks = new TreeMap<>();
    private final Map<String, Long> totals = new HashMap<>();
    private final Map<String, ByteBuffer> pagemapBytes = new HashMap<>();
    private final Set<String> deletes = new HashSet<>();
    private final Map<String, Map<Long, Long>> pageOffsets = new HashMap<>();

    DeltaIndex(Path logFile, long epoch) {
        this.logFile = logFile;
        this.epoch = epoch;
    }

    /** Records {@code r}, whose encoded payload starts at {@code payloadPos} in the log file. */
    void add(EpochRecord r, long payloadPos) throws ProtocolException {
        if (r instanceof EpochRecord.FileChunk c) {
            long dataPos = payloadPos + FILE_HEADER + utf8Length(c.name());
            Long prevTotal = totals.putIfAbsent(c.name(), c.totalSize());
            if (prevTotal != null && prevTotal != c.totalSize()) throw new ProtocolException("inconsistent size of " + c.name());
            chunks.computeIfAbsent(c.name(), k -> new ArrayList<>())
                    .add(new ImagePlan.Segment(logFile, dataPos, c.data().length, c.offset()));
            if (Pagemap.isPagemapName(c.name())) {
                if (c.totalSize() > 64 << 20) throw new ProtocolException("pagemap too large");
                pagemapBytes.computeIfAbsent(c.name(), k -> ByteBuffer.allocate((int) c.totalSize())).put((int) c.offset(), c.data());
            }
        } else if (r instanceof EpochRecord.FileDelete d) {
            deletes.add(d.name());
        } else if (r instanceof EpochRecord.PagesXor) {
            // un-XORed on receipt (ImageStore.EpochWriter#add): one in a log would be a page without a base
            throw new ProtocolException("xor pages must be resolved before they are indexed");
        } else if (r instanceof EpochRecord.PageDelta p) {
            long dataPos = payloadPos + PAGES_HEADER + utf8Length(p.pagemapName()) + 8L * p.vaddrs().length;
            Map<Long, Long> m = pageOffsets.computeIfAbsent(p.pagemapName(), k -> new HashMap<>());
            for (int i = 0; i < p.vaddrs().length; i++) m.put(p.vaddrs()[i], dataPos + (long) i * Pagemap.PAGE_SIZE);
        }
    }

    private static int utf8Length(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }

    /**
     * The plan of the image after this epoch, leaving {@code base} untouched (page tables are persistent: the new
     * plan shares every part this epoch did not touch, and nothing reachable from {@code base} is mutated). The
     * page work is proportional to the delta, not to the image: see {@link #applyPages}.
     *
     * @param full the epoch replaces the whole image
     * @throws EpochRejectedException if a file is incomplete or a page of the new image has no data
     */
    ImagePlan applyTo(ImagePlan base, boolean full) throws EpochRejectedException {
        for (var e : chunks.entrySet()) {
            long covered = 0;
            List<ImagePlan.Segment> segs = e.getValue();
            segs.sort(Comparator.comparingLong(ImagePlan.Segment::fileOffset));
            for (ImagePlan.Segment s : segs) {
                if (s.fileOffset() != covered) throw reject("gap in " + e.getKey());
                covered += s.length();
            }
            if (covered != totals.get(e.getKey())) throw reject(e.getKey() + " incomplete");
        }
        ImagePlan from = full ? new ImagePlan() : base;
        ImagePlan next = new ImagePlan();
        next.files.putAll(from.files);
        next.sizes.putAll(from.sizes);
        next.pagemaps.putAll(from.pagemaps);
        for (String d : deletes) {
            next.files.remove(d);
            next.sizes.remove(d);
            next.pagemaps.remove(d);
        }
        for (var e : chunks.entrySet()) {
            next.files.put(e.getKey(), List.copyOf(e.getValue()));
            next.sizes.put(e.getKey(), totals.get(e.getKey()));
        }
        for (var e : pagemapBytes.entrySet()) {
            try {
                next.pagemaps.put(e.getKey(), Pagemap.parse(e.getValue().array()));
            } catch (IOException ex) {
                throw reject(e.getKey() + ": " + ex.getMessage());
            }
        }
        for (var e : next.pagemaps.entrySet()) {
            String name = e.getKey();
            PageTable old = from.pages.get(name);
            Map<Long, Long> fresh = pageOffsets.getOrDefault(name, Map.of());
            if (!pagemapBytes.containsKey(name) && old != null && fresh.isEmpty()) {
                next.pages.put(name, old);
                continue;
            }
            next.pages.put(name, applyPages(name, e.getValue(), old == null ? PageTable.EMPTY : old, fresh));
        }
        return next;
    }

    /**
     * The page table of pagemap {@code name} after this epoch, in time proportional to the delta: only pages that
     * became present are checked for data (they must all come with this epoch); pages still present keep their
     * data, pages no longer present lose it (so a page that comes back must be sent again).
     */
    private PageTable applyPages(String name, Pagemap pm, PageTable old, Map<Long, Long> fresh) throws EpochRejectedException {
        PresentRuns runs;
        PresentRuns appeared, vanished;
        if (pagemapBytes.containsKey(name)) {
            try {
                runs = PresentRuns.of(pm);
            } catch (IOException ex) {
                throw reject(name + ": " + ex.getMessage());
            }
            // the pages file holds every present run's pages: with overlapping runs it would be larger than the
            // pages that have data (checked below), and materializing it would write that many
            if (pm.presentPages() != runs.pages()) {
                throw reject(name + ": present runs overlap (" + pm.presentPages() + " pages listed, " + runs.pages() + " distinct)");
            }
            appeared = runs.minus(old.runs());
            vanished = old.runs().minus(runs);
        } else {
            runs = old.runs();
            appeared = PresentRuns.NONE;
            vanished = PresentRuns.NONE;
        }
        // at most fresh.size() + 1 lookups: past that, some page that appeared has no data
        for (int i = 0; i < appeared.count(); i++) {
            for (long p = appeared.start(i); p < appeared.end(i); p++) {
                if (!fresh.containsKey(p << 12)) throw reject("no data for page 0x" + Long.toHexString(p << 12) + " of " + name);
            }
        }
        PageTable.Editor table = old.edit();
        for (int i = 0; i < vanished.count(); i++) table.removePages(vanished.start(i), vanished.end(i));
        for (var f : fresh.entrySet()) {
            // data for a page that is not present is not part of the image (as if never sent)
            if (runs.contains(f.getKey() >>> 12)) table.put(f.getKey(), logFile, f.getValue());
        }
        if (table.size() != runs.pages()) {
            throw reject("page table of " + name + " out of step: " + table.size() + " pages with data, " + runs.pages() + " present");
        }
        return table.build(runs);
    }

    private EpochRejectedException reject(String why) {
        return new EpochRejectedException("epoch " + epoch + ": " + why);
    }
}
