package io.checkpointd.protocol;

import java.io.IOException;

/** Bytes that are not a valid checkpointd message. The receiver logs it, drops the peer, and keeps running. */
public final class ProtocolException extends IOException {
    private static final long serialVersionUID = 1L;

    public ProtocolException(String message) {
        super(message);
    }
}
