package io.checkpointd.primary.engine.fds;

/** An fd the engine cannot express in the image: the epoch takes a CRIU dump, counted under {@link #kind}. */
final class Unsupported extends Exception {
    /** What kind of fd or case, as counted in status ({@code "open file not captured: <kind>"}). */
    final String kind;

    Unsupported(String kind, String detail) {
        super(detail, null, false, false);
        this.kind = kind;
    }
}
