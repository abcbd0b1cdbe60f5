package io.checkpointd.protocol.control;

import java.io.IOException;

/** The proxy refused a control request (stale generation, unsealed epoch, bad payload); nothing was changed. */
public final class ControlRejectedException extends IOException {
    private static final long serialVersionUID = 1L;

    private final String reason;

    public ControlRejectedException(String request, String reason) {
        super(request + " rejected by proxy: " + reason);
        this.reason = reason;
    }

    /** The proxy's reason, as it sent it. */
    public String reason() {
        return reason;
    }
}
