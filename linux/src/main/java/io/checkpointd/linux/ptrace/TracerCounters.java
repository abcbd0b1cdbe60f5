package io.checkpointd.linux.ptrace;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/** What a {@link Tracer} has seen, for status; written by the tracer thread, read by any. */
final class TracerCounters {
    final AtomicLong relayedSignals = new AtomicLong(), clones = new AtomicLong(), exits = new AtomicLong(),
            groupStops = new AtomicLong(), execs = new AtomicLong(), attaches = new AtomicLong(),
            adopted = new AtomicLong();

    /** The counters by name, in a fixed order. */
    Map<String, Long> asMap() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("relayed-signals", relayedSignals.get());
        m.put("clones", clones.get());
        m.put("exits", exits.get());
        m.put("group-stops", groupStops.get());
        m.put("execs", execs.get());
        m.put("attaches", attaches.get());
        // threads found in /proc at a stop before the tracer heard of them, and seized then
        m.put("adopted", adopted.get());
        return m;
    }
}
