package io.checkpointd.demo;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * The server's state: the map and its counters. Separate from {@link KvServer} so a test can stop a
 * server and start another one over the same store, which is what a successful restore looks like
 * from a client's point of view (same data, all connections gone).
 */
public final class KvStore {
    private final ConcurrentHashMap<String, String> map = new ConcurrentHashMap<>();
    private final LongAdder puts = new LongAdder();
    private final LongAdder gets = new LongAdder();

    /** Creates an empty store. */
    public KvStore() {}

    /** Stores {@code value} under {@code key}; counted in {@link #puts()}. */
    public void put(String key, String value) {
        map.put(key, value);
        puts.increment();
    }

    /** The value under {@code key} or null; counted in {@link #gets()}. */
    public String get(String key) {
        gets.increment();
        return map.get(key);
    }

    /** Number of keys. */
    public int size() {
        return map.size();
    }

    /** PUTs applied so far. */
    public long puts() {
        return puts.sum();
    }

    /** GETs served so far (hits and misses). */
    public long gets() {
        return gets.sum();
    }

    /** A copy of the current contents, for tests and diagnostics. */
    public Map<String, String> snapshot() {
        return Map.copyOf(map);
    }
}
