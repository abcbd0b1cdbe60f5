package io.checkpointd.primary;

import java.io.IOException;

/** A freeze or seal that failed: the epoch is skipped, the process keeps running. */
final class FreezeException extends IOException {
    private static final long serialVersionUID = 1L;

    FreezeException(String m) {
        super(m);
    }
}
