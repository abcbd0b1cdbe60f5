package io.checkpointd.protocol.auth;

import java.util.EnumSet;
import java.util.Set;

/**
 * The two kinds of channel, and which {@link Role} may stand at each end: who may connect to a port and who a
 * connecting process must find there. A peer outside the set is refused during the handshake, before any of its
 * frames is read.
 */
public enum Link {
    /** Primary to the backup's replication port: epochs, images, data dirs. Only a primary may push. */
    REPLICATION("the replication port", EnumSet.of(Role.PRIMARY), EnumSet.of(Role.BACKUP)),
    /** Primary or backup to the proxy's control port: seal, release, generation, passthrough. */
    CONTROL("the control port", EnumSet.of(Role.PRIMARY, Role.BACKUP), EnumSet.of(Role.PROXY));

    private final String port;
    private final Set<Role> clients;
    private final Set<Role> servers;

    Link(String port, Set<Role> clients, Set<Role> servers) {
        this.port = port;
        this.clients = clients;
        this.servers = servers;
    }

    /** The roles that may stand at the other end, as {@code side} sees it. */
    public Set<Role> peerRoles(FrameAuth.Side side) {
        return EnumSet.copyOf(side == FrameAuth.Side.SERVER ? clients : servers);
    }

    /** "the replication port": for messages. */
    public String port() {
        return port;
    }
}
