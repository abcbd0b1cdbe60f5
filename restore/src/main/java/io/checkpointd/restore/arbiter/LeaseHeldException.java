package io.checkpointd.restore.arbiter;

/** Another daemon holds the lease: it is alive and reaches the arbiter. */
public final class LeaseHeldException extends ArbiterException {
    private static final long serialVersionUID = 1L;
    private final String holder;

    public LeaseHeldException(String serviceId, String holder) {
        super("the lease of service '" + serviceId + "' is held by " + holder);
        this.holder = holder;
    }

    /** Who holds it, as that holder described itself. */
    public String holder() {
        return holder;
    }
}
