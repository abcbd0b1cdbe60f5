package io.checkpointd.linux.criu;

import java.io.IOException;

/**
 * No usable CRIU: missing, too old, or its library cannot be loaded. The message is one line, meant to be shown
 * as is by the CLI, and says how to fix it (usually: run {@code scripts/install-criu}).
 */
public final class CriuUnavailableException extends IOException {
    private static final long serialVersionUID = 1L;

    public CriuUnavailableException(String message) {
        super(message);
    }

    public CriuUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
