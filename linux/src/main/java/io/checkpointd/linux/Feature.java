package io.checkpointd.linux;

/**
 * The outcome of one run-once feature probe (see {@link Features}): available, or not and why, in the manner of
 * Netty's {@code Epoll.isAvailable()} / {@code unavailabilityCause()}.
 */
public final class Feature {
    private final String name;
    private final Throwable cause;

    private Feature(String name, Throwable cause) {
        this.name = name;
        this.cause = cause;
    }

    static Feature available(String name) {
        return new Feature(name, null);
    }

    static Feature unavailable(String name, Throwable cause) {
        return new Feature(name, cause);
    }

    static Feature unavailable(String name, String reason) {
        return new Feature(name, new UnsupportedOperationException(reason));
    }

    public String name() {
        return name;
    }

    public boolean isAvailable() {
        return cause == null;
    }

    /** Why the feature is unavailable, or {@code null} if it is available. */
    public Throwable unavailabilityCause() {
        return cause;
    }

    /** Throws an {@link UnsupportedOperationException} naming the feature and its cause if unavailable. */
    public void ensureAvailability() {
        if (cause != null) throw new UnsupportedOperationException(name + " unavailable: " + cause.getMessage(), cause);
    }

    @Override
    public String toString() {
        return name + ": " + (cause == null ? "available" : "unavailable (" + cause.getMessage() + ")");
    }
}
