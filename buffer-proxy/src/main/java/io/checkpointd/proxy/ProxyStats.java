package io.checkpointd.proxy;

/**
 * A consistent snapshot of the proxy's state, taken on its event loop.
 *
 * @param generation              generation in force
 * @param lastSealed              last epoch sealed in this generation, -1 if none yet
 * @param lastReleased            last epoch released in this generation, -1 if none yet
 * @param passthrough             output of this generation is not held
 * @param connections             client connections of this generation
 * @param heldBytes               service output held now, over all connections
 * @param releasedBytes           service output written to clients since start
 * @param discardedBytes          held output dropped (generation change, client gone, shutdown) since start
 * @param rejectedControlMessages control requests answered CONTROL_REJECT since start
 * @param superseded              every earlier generation, oldest first, as it stood when the next one took over
 * @param outputBytes             service output read and tagged with an epoch in this generation, over all connections
 * @param outputBytesAtSeal       for the epochs of this generation sealed and not yet released, and the last released
 *                                one (at most 256, newest kept): {@code outputBytes} at
 *                                the epoch's seal, i.e. the output of epochs &le; it, which its RELEASE lets out
 * @param outputHeldSignals       OUTPUT_HELD frames sent to the primary (at most one per epoch) since start
 * @param heldP50Ms               of the last 4,096 held chunks, the median time from read (service) to written
 *                                (client): the delay output commit added to a reply, ms
 * @param heldP99Ms               the same, 99th percentile
 * @param heldChunks              held chunks written to clients since start (the count behind the percentiles)
 */
public record ProxyStats(long generation, long lastSealed, long lastReleased, boolean passthrough, int connections,
                         long heldBytes, long releasedBytes, long discardedBytes, long rejectedControlMessages,
                         java.util.List<Superseded> superseded, long outputBytes,
                         java.util.SortedMap<Long, Long> outputBytesAtSeal, long outputHeldSignals,
                         double heldP50Ms, double heldP99Ms, long heldChunks) {
    /**
     * A generation that a newer one replaced: its final watermarks and the bytes it released. Nothing of it can be
     * released afterwards (its SEAL/RELEASE are refused as stale), so these figures are final.
     */
    public record Superseded(long generation, long lastSealed, long lastReleased, boolean passthrough, long releasedBytes) {
    }

    public ProxyStats {
        superseded = java.util.List.copyOf(superseded);
        outputBytesAtSeal = java.util.Collections.unmodifiableSortedMap(new java.util.TreeMap<>(outputBytesAtSeal));
    }
}
