package io.checkpointd.demo;

import java.time.Duration;
import java.util.List;

/**
 * Outcome of {@link KvWorkload#verify}: for every key with an acknowledged write, did the server
 * still hold that write (or a later one)?
 *
 * @param checkedKeys     keys with at least one acknowledged write
 * @param okKeys          keys whose value was at least the highest acknowledged one
 * @param missingKeys     keys the server no longer had ({@code NONE}): an acknowledged write lost
 * @param staleKeys       keys holding an older value than acknowledged: an acknowledged write lost
 * @param invalidKeys     keys holding a value the workload never wrote to that key (corruption)
 * @param unverifiedKeys  keys not checked because the server stayed unreachable until the timeout
 * @param missingSample   the first few missing keys, e.g. {@code t0-k3 acked=53}
 * @param staleSample     the first few stale keys, e.g. {@code t0-k3 acked=53 got=43}
 * @param invalidSample   the first few invalid keys with what was found
 * @param elapsed         how long verification took
 */
public record VerificationResult(int checkedKeys, int okKeys, int missingKeys, int staleKeys, int invalidKeys,
        int unverifiedKeys, List<String> missingSample, List<String> staleSample, List<String> invalidSample,
        Duration elapsed) {

    /** How many keys each sample list keeps. */
    public static final int SAMPLE_SIZE = 10;

    /** Copies the samples. */
    public VerificationResult {
        missingSample = List.copyOf(missingSample);
        staleSample = List.copyOf(staleSample);
        invalidSample = List.copyOf(invalidSample);
    }

    /** True iff every acknowledged write was found and every key was checked. */
    public boolean ok() {
        return missingKeys == 0 && staleKeys == 0 && invalidKeys == 0 && unverifiedKeys == 0;
    }

    /** One line for logs and assertion messages. */
    public String summary() {
        StringBuilder sb = new StringBuilder(ok() ? "OK" : "FAILED")
                .append(": checked=").append(checkedKeys)
                .append(" ok=").append(okKeys)
                .append(" missing=").append(missingKeys)
                .append(" stale=").append(staleKeys)
                .append(" invalid=").append(invalidKeys)
                .append(" unverified=").append(unverifiedKeys)
                .append(" in ").append(elapsed.toMillis()).append("ms");
        if (!missingSample.isEmpty()) {
            sb.append(" missing: ").append(missingSample);
        }
        if (!staleSample.isEmpty()) {
            sb.append(" stale: ").append(staleSample);
        }
        if (!invalidSample.isEmpty()) {
            sb.append(" invalid: ").append(invalidSample);
        }
        return sb.toString();
    }

    @Override
    public String toString() {
        return summary();
    }
}
