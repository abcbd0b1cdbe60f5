package io.checkpointd.restore.store;

/**
 * Named fault-injection points of the commit path, for tests (in the spirit of Ratis's CodeInjectionForTesting):
 * production code calls them; they do nothing unless a test installs an action.
 */
public final class CommitFault {
    /** Runs after an epoch is verified and before it is made durable. */
    public static volatile Runnable beforeDurable = () -> { };
    /** Runs in a standby image update once half of a pagemap's changed pages are written in place. */
    public static volatile Runnable midStandbyUpdate = () -> { };

    private CommitFault() {
    }

    public static void reset() {
        beforeDurable = () -> { };
        midStandbyUpdate = () -> { };
    }
}
