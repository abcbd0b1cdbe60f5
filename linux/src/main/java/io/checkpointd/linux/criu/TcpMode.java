package io.checkpointd.linux.criu;

/** What CRIU does with established TCP connections of the dumped tree. */
public enum TcpMode {
    /** CRIU's default: refuse to dump a tree with established connections. */
    DEFAULT,
    /** {@code --tcp-established}: checkpoint and restore the connections (needs TCP repair). */
    ESTABLISHED,
    /** {@code --tcp-close}: do not save them; the restored process sees them closed. Listening sockets survive. */
    CLOSE
}
