package io.checkpointd.restore.arbiter;

/** The lease this daemon held is gone (its session ended): it must not act for the service any more. */
public final class LeaseLostException extends ArbiterException {
    private static final long serialVersionUID = 1L;

    public LeaseLostException(String message) {
        super(message);
    }
}
