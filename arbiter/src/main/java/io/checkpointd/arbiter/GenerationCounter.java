package io.checkpointd.arbiter;

import io.checkpointd.restore.arbiter.ArbiterException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;

/**
 * The persistent generation counter of a service: read with its version, then set to the next value with that
 * version (compare-and-set) in one transaction with the caller's guards. A concurrent increment makes the set
 * fail with BADVERSION and the read is repeated, so no value is ever handed out twice and values only grow.
 */
public final class GenerationCounter {
    /** Bound on compare-and-set rounds: each lost round means someone else advanced the counter meanwhile. */
    static final int MAX_ROUNDS = 1000;

    private GenerationCounter() {
    }

    /**
     * @param guards operations that must hold for the increment to apply (e.g. a check that the lease exists)
     * @return the new value: greater than the counter was and at least {@code atLeast}
     * @throws KeeperException from a guard (e.g. NONODE when the lease node is gone) or the connection
     */
    public static long next(ZooKeeper zk, String path, long atLeast, List<Op> guards)
            throws KeeperException, InterruptedException, ArbiterException {
        for (int round = 0; round < MAX_ROUNDS; round++) {
            Stat st = new Stat();
            long current = decode(path, zk.getData(path, false, st));
            long next = Math.max(current + 1, atLeast);
            List<Op> ops = new ArrayList<>(guards);
            ops.add(Op.setData(path, encode(next), st.getVersion()));
            try {
                zk.multi(ops);
                return next;
            } catch (KeeperException.BadVersionException e) {
                // another incrementer won this round: read again
            }
        }
        throw new ArbiterException("the generation counter " + path + " changed " + MAX_ROUNDS + " times while we tried to advance it");
    }

    static byte[] encode(long value) {
        return Long.toString(value).getBytes(StandardCharsets.US_ASCII);
    }

    static long decode(String path, byte[] data) throws ArbiterException {
        try {
            return data == null || data.length == 0 ? 0 : Long.parseLong(new String(data, StandardCharsets.US_ASCII).trim());
        } catch (NumberFormatException e) {
            throw new ArbiterException("the generation counter " + path + " does not hold a number: refusing to guess one");
        }
    }
}
