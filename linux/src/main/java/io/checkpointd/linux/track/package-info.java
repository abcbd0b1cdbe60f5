/**
 * Tracking which pages of a protected process were written between epochs.
 * {@link io.checkpointd.linux.track.DirtyTracker} is the contract, {@link io.checkpointd.linux.track.Trackers}
 * picks and opens one ({@code uffd-wp}: userfaultfd async write-protect + {@code PAGEMAP_SCAN}; {@code soft-dirty}:
 * {@code clear_refs} + pagemap bit 55; {@code scan}: a hash per present page) and explains what this kernel
 * offers; {@link io.checkpointd.linux.track.PresentPages} lists the pages CRIU would dump, from which the engine
 * builds each epoch's pagemap (it also drops pages zeroed by {@code MADV_DONTNEED}, which no tracker reports).
 * Implementations are package-private.
 */
package io.checkpointd.linux.track;
