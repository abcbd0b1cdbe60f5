package io.checkpointd.proxy;

/** A control request that must not be applied; its message is the reason sent back in CONTROL_REJECT. */
final class RejectedRequest extends Exception {
    private static final long serialVersionUID = 1L;

    RejectedRequest(String reason) {
        super(reason, null, false, false);
    }
}
