package io.checkpointd.restore.arbiter;

import java.io.IOException;

/** The arbiter could not answer (unreachable, timed out): nothing was decided. */
public class ArbiterException extends IOException {
    private static final long serialVersionUID = 1L;

    public ArbiterException(String message) {
        super(message);
    }

    public ArbiterException(String message, Throwable cause) {
        super(message, cause);
    }
}
