package io.checkpointd.arbiter;

import io.checkpointd.restore.arbiter.ArbiterException;
import io.checkpointd.restore.arbiter.Lease;
import io.checkpointd.restore.arbiter.LeaseLostException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A lease held as an ephemeral node created by one ZooKeeper session. Every operation goes through that
 * session's own handle (never Curator's current one, which may be a new session after an expiry): a
 * ZooKeeper handle never changes session, so an operation on it either runs in the session that owns the lease
 * node or fails with SESSIONEXPIRED.
 */
final class ZkLease implements Lease {
    private static final Logger log = LoggerFactory.getLogger(ZkLease.class);

    private final ZkArbiter arbiter;
    private final ZooKeeper zk;
    private final long sessionId;
    private final String leasePath;
    private final String generationPath;
    private final String holder;
    private final CopyOnWriteArrayList<Consumer<String>> listeners = new CopyOnWriteArrayList<>();
    private volatile String lostWhy;
    private volatile boolean released;

    ZkLease(ZkArbiter arbiter, ZooKeeper zk, String leasePath, String generationPath, String holder) {
        this.arbiter = arbiter;
        this.zk = zk;
        this.sessionId = zk.getSessionId();
        this.leasePath = leasePath;
        this.generationPath = generationPath;
        this.holder = holder;
    }

    long sessionId() {
        return sessionId;
    }

    /** Watches the node: deleted (by hand) or the session expired means the lease is gone. */
    void watch() throws KeeperException, InterruptedException {
        Watcher w = this::event;
        if (zk.exists(leasePath, w) == null) lost("the lease node disappeared right after it was created");
    }

    private void event(WatchedEvent e) {
        if (e.getState() == Watcher.Event.KeeperState.Expired) {
            lost("the ZooKeeper session expired");
        } else if (e.getType() == Watcher.Event.EventType.NodeDeleted) {
            lost("the lease node " + leasePath + " was deleted");
        } else if (e.getType() != Watcher.Event.EventType.None) {
            try {
                watch(); // another change (data): watches fire once; keep watching
            } catch (KeeperException | InterruptedException ex) {
                // a lost connection is reported by the connection state listener
            }
        }
    }

    @Override
    public boolean isHeld() {
        return lostWhy == null && !released && arbiter.connected();
    }

    @Override
    public long nextGeneration(long atLeast) throws ArbiterException, InterruptedException {
        if (released) throw new LeaseLostException("the lease was released");
        if (lostWhy != null) throw new LeaseLostException("the lease was lost: " + lostWhy);
        long deadline = System.nanoTime() + arbiter.sessionTimeout().toNanos();
        while (true) {
            try {
                // the check fails (NONODE) if the lease node is gone; the handle fails if its session is
                return GenerationCounter.next(zk, generationPath, atLeast, List.of(Op.check(leasePath, -1)));
            } catch (KeeperException.NoNodeException | KeeperException.SessionExpiredException e) {
                lost(e instanceof KeeperException.NoNodeException ? "the lease node is gone" : "the ZooKeeper session expired");
                throw new LeaseLostException("the lease was lost before a generation could be taken: " + lostWhy);
            } catch (KeeperException.ConnectionLossException e) {
                // the handle reconnects by itself within its session; a value taken but not reported is a
                // harmless gap: generations need only grow
                if (System.nanoTime() - deadline >= 0) throw new ArbiterException("ZooKeeper unreachable while taking a generation", e);
                Thread.sleep(100);
            } catch (KeeperException e) {
                throw new ArbiterException("taking a generation: " + e.getMessage(), e);
            }
        }
    }

    @Override
    public void onLost(Consumer<String> listener) {
        listeners.add(listener);
        String why = lostWhy;
        if (why != null && !released && listeners.remove(listener)) listener.accept(why);
    }

    void lost(String why) {
        synchronized (this) {
            if (lostWhy != null || released) return;
            lostWhy = why;
        }
        arbiter.forget(this);
        log.error("lease of {} lost: {}", holder, why);
        for (Consumer<String> l : listeners) {
            if (listeners.remove(l)) l.accept(why);
        }
    }

    @Override
    public void release() {
        synchronized (this) {
            if (released) return;
            released = true;
        }
        arbiter.forget(this);
        if (lostWhy != null) return;
        try {
            org.apache.zookeeper.data.Stat st = zk.exists(leasePath, false);
            // only our own node: never delete a lease someone else took
            if (st != null && st.getEphemeralOwner() == sessionId) zk.delete(leasePath, st.getVersion());
            log.info("lease of {} released", holder);
        } catch (KeeperException.NoNodeException e) {
            // already gone
        } catch (KeeperException | InterruptedException e) {
            // closing the session (ZkArbiter.close) deletes the ephemeral node anyway
            log.warn("releasing the lease of {}: {}", holder, e.toString());
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
        }
    }
}
