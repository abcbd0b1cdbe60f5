package io.checkpointd.primary.engine.state;

import io.checkpointd.linux.proc.Vma;
import io.checkpointd.linux.track.PageHashes;
import io.checkpointd.linux.track.Ranges;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * What the backup holds after the last shipped epoch: the image files as shipped, each pagemap's page hashes, and
 * the present pages of the patched pagemap with the VMAs they were taken in. Shipping updates it; the memory stage
 * reads the present pages. Also whether tracking still matches it: {@link #resync()} is set when an epoch consumed
 * the tracker's report but never shipped, and the next epoch must then be a CRIU dump. Used by one thread at a time
 * (the capture, then the shipping of its epoch).
 */
public final class Reference {
    private final Map<String, byte[]> shipped = new HashMap<>();
    private final Map<String, PageHashes> hashes = new HashMap<>();
    private long[] present = Ranges.EMPTY;
    private Set<Vma> presentMaps = Set.of();
    private boolean resync = true;

    /** The image files as last shipped, by name (changed in place by shipping). */
    public Map<String, byte[]> shipped() {
        return shipped;
    }

    /** Per pagemap, the hash of every page as last shipped (changed in place by shipping). */
    public Map<String, PageHashes> hashes() {
        return hashes;
    }

    /** Forgets every shipped file and hash (a full epoch ships everything). */
    public void clear() {
        shipped.clear();
        hashes.clear();
    }

    /** The present pages of the patched pagemap as last shipped. */
    public long[] present() {
        return present;
    }

    /** The VMAs {@link #present()} was taken in (a dump's or a stop's maps). */
    public Set<Vma> presentMaps() {
        return presentMaps;
    }

    /** The present pages just shipped, and the VMAs they were taken in. */
    public void present(long[] pages, Collection<Vma> maps) {
        present = pages;
        presentMaps = Set.copyOf(maps);
    }

    /** Whether the next epoch must be a CRIU dump: tracking was consumed by an epoch that never shipped. */
    public boolean resync() {
        return resync;
    }

    /** Sets or clears {@link #resync()}. */
    public void resync(boolean needed) {
        resync = needed;
    }
}
