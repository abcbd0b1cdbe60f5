package io.checkpointd.protocol;

/**
 * Every message kind on checkpointd's wire. Codes are stable: they are part of the protocol.
 * 1–15 primary → backup, 16–31 backup → primary, 32–63 proxy control, 64 connection setup (either side).
 */
public enum FrameType {
    /** primary → backup: opens a replication session (payload: {@code Hello}). */
    HELLO(1),
    /** primary → backup: epoch N starts; payload describes what follows. */
    EPOCH_BEGIN(2),
    /** primary → backup: one piece of epoch N (a whole image file, a page delta, a file change). */
    EPOCH_DATA(3),
    /** primary → backup: epoch N is complete; payload holds the frame count and digest to verify. */
    EPOCH_END(4),
    /** primary → backup: liveness, also between epochs. */
    HEARTBEAT(5),
    /** primary → backup: the protected process exited; the backup should take over now. */
    PRIMARY_EXIT(6),

    /** backup → primary: the session is accepted (payload: the backup's committed generation and epoch). */
    HELLO_OK(16),
    /** backup → primary: epoch N is committed and durable. */
    ACK(17),
    /** backup → primary: epoch N was rejected (payload: reason); the primary must resend it in full. */
    NACK(18),
    /** backup → primary: this generation has been fenced; the primary must stop releasing output. */
    FENCED(19),

    /** primary → proxy: seal epoch N now (the process is frozen); answered by SEALED. */
    SEAL(32),
    /** proxy → primary: epoch N's boundary is marked on every connection. */
    SEALED(33),
    /** primary → proxy: the backup acknowledged N; release output up to the seal of N. */
    RELEASE(34),
    /** backup → proxy: a new generation: drop older output, close its clients, route to the payload's upstream. */
    GENERATION(35),
    /** proxy → sender: the control message was applied. */
    CONTROL_OK(36),
    /** proxy → sender: the control message was refused (stale generation, bad payload). */
    CONTROL_REJECT(37),
    /** backup or primary → proxy: the generation is unprotected; release output at once. */
    PASSTHROUGH(38),
    /** primary → proxy: protected again (a backup is back): hold output from now on until it is released. */
    HOLD(39),
    /**
     * proxy → primary, unsolicited (not an answer): the open epoch N now holds service output, so ending it early
     * lets that output out sooner. Sent once per epoch, on the connection of the generation's last SEAL.
     */
    OUTPUT_HELD(40),

    /**
     * either side, first frame of an authenticated connection: a fresh nonce and the key's id (payload). Only
     * {@link io.checkpointd.protocol.auth.AuthHandshake} sends and reads it; anywhere else it is a protocol error.
     */
    AUTH(64);

    private static final FrameType[] BY_CODE = new FrameType[256];

    static {
        for (FrameType t : values()) BY_CODE[t.code] = t;
    }

    private final int code;

    FrameType(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    /** @return the type for a wire code, or null for an unknown code */
    public static FrameType ofCode(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}
