package io.checkpointd.demo;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Outcome of {@link KvWorkload#verify}: did the server hold every acknowledged write, each with exactly its value?
 * With a fault snapshot, the writes acknowledged before the fault are also counted apart: those are what a failover
 * must have kept.
 *
 * @param checkedKeys     acknowledged writes checked
 * @param okKeys          of them, present with exactly the value written
 * @param missingKeys     acknowledged writes the server did not have ({@code NONE}): lost
 * @param invalidKeys     keys holding a value that was never written there, or a never-sent key that is present
 * @param unverifiedKeys  acknowledged writes not checked because the server stayed unreachable until the timeout
 * @param ackedAtFault    writes acknowledged when the fault snapshot was taken; -1 without a snapshot
 * @param okAtFault       of those, present with exactly their value
 * @param missingSample   the first few missing keys
 * @param invalidSample   the first few invalid keys with what was found
 * @param elapsed         how long verification took
 */
public record VerificationResult(int checkedKeys, int okKeys, int missingKeys, int invalidKeys, int unverifiedKeys,
        long ackedAtFault, long okAtFault, List<String> missingSample, List<String> invalidSample, Duration elapsed) {

    /** How many keys each sample list keeps. */
    public static final int SAMPLE_SIZE = 10;

    /** Copies the samples. */
    public VerificationResult {
        missingSample = List.copyOf(missingSample);
        invalidSample = List.copyOf(invalidSample);
    }

    /**
     * True iff every acknowledged write was found with its value, every one was checked, nothing unsent was found,
     * and (with a snapshot) every write acknowledged before the fault was among them.
     */
    public boolean ok() {
        return missingKeys == 0 && invalidKeys == 0 && unverifiedKeys == 0 && okKeys == checkedKeys
                && (ackedAtFault < 0 || okAtFault == ackedAtFault);
    }

    /** One line for logs and assertion messages. */
    public String summary() {
        StringBuilder sb = new StringBuilder(ok() ? "OK" : "FAILED")
                .append(": checked=").append(checkedKeys)
                .append(" ok=").append(okKeys)
                .append(" missing=").append(missingKeys)
                .append(" invalid=").append(invalidKeys)
                .append(" unverified=").append(unverifiedKeys);
        if (ackedAtFault >= 0) {
            sb.append(" acked-before-fault=").append(ackedAtFault).append(" of which present=").append(okAtFault);
        }
        sb.append(" in ").append(elapsed.toMillis()).append("ms");
        if (!missingSample.isEmpty()) {
            sb.append(" missing: ").append(missingSample);
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

    /** Accumulates a verification's findings, key by key. */
    static final class Builder {
        private final long ackedAtFault;
        private int checked, ok, missing, invalid, unverified;
        private long okAtFault;
        private final List<String> missingSample = new ArrayList<>();
        private final List<String> invalidSample = new ArrayList<>();

        Builder(long ackedAtFault) {
            this.ackedAtFault = ackedAtFault;
        }

        void ok(boolean beforeFault) {
            checked++;
            ok++;
            if (beforeFault) {
                okAtFault++;
            }
        }

        void missing(String what) {
            checked++;
            missing++;
            sample(missingSample, what);
        }

        /** An acknowledged write holding another value. */
        void wrongValue(String what) {
            checked++;
            invalid(what);
        }

        /** A finding that is not an acknowledged write (a never-sent key that is present). */
        void invalid(String what) {
            invalid++;
            sample(invalidSample, what);
        }

        void unverified() {
            checked++;
            unverified++;
        }

        private static void sample(List<String> sample, String what) {
            if (sample.size() < SAMPLE_SIZE) {
                sample.add(what);
            }
        }

        VerificationResult build(Duration elapsed) {
            return new VerificationResult(checked, ok, missing, invalid, unverified, ackedAtFault, okAtFault,
                    missingSample, invalidSample, elapsed);
        }
    }
}
