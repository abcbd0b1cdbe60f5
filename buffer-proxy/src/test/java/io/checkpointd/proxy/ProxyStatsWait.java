package io.checkpointd.proxy;

import java.util.function.Predicate;

/** Waits in the proxy tests for the proxy's counters to reach a state. */
final class ProxyStatsWait {
    private ProxyStatsWait() {
    }

    /** Polls {@code proxy}'s stats every 10 ms until {@code condition} holds; fails after 5 s naming {@code what}. */
    static void awaitStats(BufferProxy proxy, Predicate<ProxyStats> condition, String what) throws InterruptedException {
        ProxyStats s = null;
        for (int i = 0; i < 500; i++) {
            s = proxy.stats();
            if (condition.test(s)) return;
            Thread.sleep(10);
        }
        throw new AssertionError("not reached within 5 s: " + what + "; last " + s);
    }
}
