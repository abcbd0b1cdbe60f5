package io.checkpointd.cli;

/** A mistake in the user's input found after parsing (a pid that is not there, a backup not listening): exit 2. */
public final class UsageException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public UsageException(String message) {
        super(message);
    }
}
