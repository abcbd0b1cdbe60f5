package io.checkpointd.restore.store;

import java.io.IOException;

/** An epoch the store will not commit (out of order, stale generation, failed verification); nothing changed. */
public final class EpochRejectedException extends IOException {
    private static final long serialVersionUID = 1L;

    public EpochRejectedException(String message) {
        super(message);
    }
}
