package io.checkpointd.restore.store;

/**
 * Named fault-injection points of the commit path, for tests (in the spirit of Ratis's CodeInjectionForTesting):
 * production code calls them; they do nothing unless a test installs an action.
 */
public final class CommitFault {
    /** Runs after an epoch is verified and before it is made durable. */
    public static volatile Runnable beforeDurable = () -> { };

    private CommitFault() {
    }

    public static void reset() {
        beforeDurable = () -> { };
    }
}
