package io.checkpointd.arbiter;

import io.checkpointd.restore.arbiter.Arbiter;
import io.checkpointd.restore.arbiter.ArbiterException;
import io.checkpointd.restore.arbiter.Lease;
import io.checkpointd.restore.arbiter.LeaseHeldException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link Arbiter} on ZooKeeper. The lease is a plain ephemeral node at a fixed path, the way HDFS's
 * ActiveStandbyElector makes its lock: whoever creates it holds it until its session ends. Not Curator's
 * LeaderLatch or InterProcessMutex: those queue contenders on sequential nodes and hand the lease on by
 * themselves, while here a primary must be refused at once when someone else holds it, the backup contends only
 * when it has lost the primary's heartbeats, and the generation counter must be advanced in one transaction with
 * a check of one known lease node. Curator supplies the connection: retries, and the connection states that tell
 * a holder it lost its session (LOST, which Curator also reports once the session timeout has passed without a
 * connection, so a partitioned holder learns it without having to reach the server).
 */
public final class ZkArbiter implements Arbiter {
    private static final Logger log = LoggerFactory.getLogger(ZkArbiter.class);
    /** How often a waiting acquire looks again whether the holder's node is gone. */
    private static final long POLL_MS = 50;

    private final ArbiterAddress address;
    private final String serviceId;
    private final Duration sessionTimeout;
    private final CuratorFramework client;
    private final String leasePath;
    private final String generationPath;
    private final CopyOnWriteArrayList<ZkLease> leases = new CopyOnWriteArrayList<>();
    private volatile boolean connected;

    private ZkArbiter(ArbiterAddress address, String serviceId, Duration sessionTimeout) {
        this.address = address;
        this.serviceId = ArbiterAddress.checkServiceId(serviceId);
        this.sessionTimeout = sessionTimeout;
        String base = address.servicePath(serviceId);
        this.leasePath = base + "/lease";
        this.generationPath = base + "/generation";
        int sessionMs = (int) sessionTimeout.toMillis();
        this.client = CuratorFrameworkFactory.builder().connectString(address.connectString())
                .sessionTimeoutMs(sessionMs).connectionTimeoutMs(Math.max(500, sessionMs / 2))
                .retryPolicy(new ExponentialBackoffRetry(100, 3)).build();
        client.getConnectionStateListenable().addListener((c, s) -> stateChanged(s));
    }

    /**
     * Starts a client for one service; it connects in the background (an arbiter that is down now may be up when
     * it is needed). {@link #awaitConnected(Duration)} waits for it.
     *
     * @param sessionTimeout how long ZooKeeper keeps a silent holder's session (and so its lease); the server
     *                       may bound it (2 to 20 ticks)
     */
    public static ZkArbiter start(ArbiterAddress address, String serviceId, Duration sessionTimeout) {
        ZkArbiter a = new ZkArbiter(address, serviceId, sessionTimeout);
        a.client.start();
        return a;
    }

    /** @return whether the arbiter was reached within {@code max} */
    public boolean awaitConnected(Duration max) throws InterruptedException {
        return client.blockUntilConnected((int) Math.max(1, max.toMillis()), TimeUnit.MILLISECONDS);
    }

    @Override
    public String serviceId() {
        return serviceId;
    }

    @Override
    public String describe() {
        return address + " service " + serviceId;
    }

    /** The session timeout asked for. */
    public Duration sessionTimeout() {
        return sessionTimeout;
    }

    /** The Curator client (tests use it to kill the session). */
    public CuratorFramework client() {
        return client;
    }

    @Override
    public Lease acquire(String holder, Duration max) throws ArbiterException, InterruptedException {
        long deadline = System.nanoTime() + max.toNanos();
        byte[] data = holder.getBytes(StandardCharsets.UTF_8);
        while (true) {
            ZooKeeper zk = connectedHandle(deadline);
            try {
                ensureNodes(zk);
                try {
                    zk.create(leasePath, data, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
                    return held(zk, holder);
                } catch (KeeperException.NodeExistsException e) {
                    Stat st = new Stat();
                    byte[] other = zk.getData(leasePath, false, st);
                    // ours already: a create whose reply was lost to a connection loss did succeed
                    if (st.getEphemeralOwner() == zk.getSessionId()) return held(zk, holder);
                    if (System.nanoTime() - deadline >= 0) {
                        throw new LeaseHeldException(serviceId, new String(other, StandardCharsets.UTF_8));
                    }
                }
            } catch (KeeperException.NoNodeException e) {
                // the holder's node went away between our create and our read: try again at once
                continue;
            } catch (KeeperException.ConnectionLossException | KeeperException.SessionExpiredException e) {
                // Curator reconnects (or starts a new session); connectedHandle waits for it within the bound
            } catch (KeeperException e) {
                throw new ArbiterException(describe() + ": " + e.getMessage(), e);
            }
            if (System.nanoTime() - deadline >= 0) throw new ArbiterException(describe() + " could not be asked within " + max.toMillis() + " ms");
            Thread.sleep(POLL_MS);
        }
    }

    private Lease held(ZooKeeper zk, String holder) throws KeeperException, InterruptedException {
        ZkLease lease = new ZkLease(this, zk, leasePath, generationPath, holder);
        leases.add(lease);
        lease.watch();
        log.info("arbiter {}: lease taken by {} (session 0x{})", describe(), holder, Long.toHexString(zk.getSessionId()));
        return lease;
    }

    /** Creates the service's node and its counter (0) if they are missing; both are persistent. */
    private void ensureNodes(ZooKeeper zk) throws KeeperException, InterruptedException {
        if (zk.exists(generationPath, false) != null) return;
        StringBuilder p = new StringBuilder();
        for (String seg : generationPath.substring(1).split("/")) {
            p.append('/').append(seg);
            byte[] init = p.length() == generationPath.length() ? GenerationCounter.encode(0) : new byte[0];
            try {
                zk.create(p.toString(), init, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            } catch (KeeperException.NodeExistsException e) {
                // made by the other side, or earlier
            }
        }
    }

    /** The current session's handle once connected, or ArbiterException at the deadline. */
    private ZooKeeper connectedHandle(long deadline) throws ArbiterException, InterruptedException {
        long left = Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
        if (!client.getZookeeperClient().isConnected() && !client.blockUntilConnected((int) Math.min(left, Integer.MAX_VALUE), TimeUnit.MILLISECONDS)) {
            throw new ArbiterException(describe() + " is unreachable (no connection within " + left + " ms)");
        }
        try {
            return client.getZookeeperClient().getZooKeeper();
        } catch (Exception e) {
            throw new ArbiterException(describe() + ": " + e.getMessage(), e);
        }
    }

    private void stateChanged(ConnectionState s) {
        connected = s.isConnected();
        log.info("arbiter {}: connection {}", describe(), s);
        long session = -1;
        if (s == ConnectionState.RECONNECTED) {
            try {
                session = client.getZookeeperClient().getZooKeeper().getSessionId();
            } catch (Exception e) {
                session = -1;
            }
        }
        for (ZkLease l : leases) {
            if (s == ConnectionState.LOST) {
                l.lost("the session with ZooKeeper ended (no connection for the session timeout of " + sessionTimeout.toMillis() + " ms)");
            } else if (s == ConnectionState.RECONNECTED && session != l.sessionId()) {
                l.lost("reconnected to ZooKeeper with a new session: the old one, and the lease with it, expired");
            }
        }
    }

    boolean connected() {
        return connected && client.getZookeeperClient().isConnected();
    }

    void forget(ZkLease lease) {
        leases.remove(lease);
    }

    @Override
    public void close() {
        for (ZkLease l : leases) l.release();
        client.close(); // closes the session: ZooKeeper deletes our ephemeral node at once
    }
}
