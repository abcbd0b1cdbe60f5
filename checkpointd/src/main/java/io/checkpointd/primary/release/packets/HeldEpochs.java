package io.checkpointd.primary.release.packets;

import java.util.ArrayDeque;
import java.util.OptionalInt;

/**
 * Which queued packets belong to which epoch. Packet ids grow by one per packet of the queue, so an epoch is just
 * the highest id read before it was sealed: releasing epoch n is one verdict up to that id. Packets read after the
 * seal of n belong to the open epoch n+1 (later release is always safe). Not thread-safe: {@link PacketHold} locks.
 */
final class HeldEpochs {
    /** A sealed epoch that holds packets: the last id, its packets and bytes, when its first packet was read. */
    private record Sealed(long epoch, int lastId, long packets, long bytes, long firstReadNanos) {
    }

    private final ArrayDeque<Sealed> sealed = new ArrayDeque<>();
    private long openEpoch = 1;
    private int openLastId;
    private long openPackets, openBytes, openFirstRead;
    private long heldPackets, heldBytes;

    /** The epoch packets read now belong to. */
    long openEpoch() {
        return openEpoch;
    }

    /** A packet read from the queue. @return whether it is the open epoch's first (the epoch now holds output) */
    boolean add(int id, int length, long nowNanos) {
        boolean first = openPackets == 0;
        if (first) openFirstRead = nowNanos;
        openLastId = id;
        openPackets++;
        openBytes += length;
        heldPackets++;
        heldBytes += length;
        return first;
    }

    /** Epoch {@code n} ends: every packet read so far belongs to it or an earlier epoch; n+1 opens. */
    void seal(long n) {
        if (n < openEpoch - 1) throw new IllegalStateException("epoch " + n + " sealed after " + (openEpoch - 1));
        if (openPackets > 0) sealed.add(new Sealed(n, openLastId, openPackets, openBytes, openFirstRead));
        openPackets = 0;
        openBytes = 0;
        openEpoch = n + 1;
    }

    /** What releasing up to epoch {@code n} frees: the last id, and per freed epoch how long its first packet was held. */
    record Freed(int lastId, long packets, long bytes, long[] heldNanos) {
    }

    /** Takes every sealed epoch up to {@code n}; empty when none holds a packet. */
    Freed release(long n, long nowNanos) {
        if (sealed.isEmpty() || sealed.peekFirst().epoch() > n) return null;
        int last = 0;
        long packets = 0, bytes = 0;
        java.util.List<Long> held = new java.util.ArrayList<>();
        while (!sealed.isEmpty() && sealed.peekFirst().epoch() <= n) {
            Sealed s = sealed.pollFirst();
            last = s.lastId();
            packets += s.packets();
            bytes += s.bytes();
            held.add(nowNanos - s.firstReadNanos());
        }
        heldPackets -= packets;
        heldBytes -= bytes;
        return new Freed(last, packets, bytes, held.stream().mapToLong(Long::longValue).toArray());
    }

    /** Forgets every packet read (sealed or not): the id to drop them up to, if any. */
    OptionalInt dropAll() {
        OptionalInt last = openPackets > 0 ? OptionalInt.of(openLastId)
                : sealed.isEmpty() ? OptionalInt.empty() : OptionalInt.of(sealed.peekLast().lastId());
        sealed.clear();
        openPackets = 0;
        openBytes = 0;
        heldPackets = 0;
        heldBytes = 0;
        return last;
    }

    long heldPackets() {
        return heldPackets;
    }

    long heldBytes() {
        return heldBytes;
    }

    /** Sealed epochs still holding packets. */
    int heldEpochs() {
        return sealed.size();
    }
}
