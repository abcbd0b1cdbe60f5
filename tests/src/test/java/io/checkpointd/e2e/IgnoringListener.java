package io.checkpointd.e2e;

import io.checkpointd.primary.ship.ReplicationClient;

/** A replication listener for tests that speak to a backup as a primary would and only look at the handshake. */
final class IgnoringListener implements ReplicationClient.Listener {
    @Override
    public void acked(long generation, long epoch) {
    }

    @Override
    public void nacked(long epoch, String reason) {
    }

    @Override
    public void fenced(long fencedGeneration) {
    }

    @Override
    public void disconnected() {
    }
}
