/**
 * The ZooKeeper arbiter (through Apache Curator): per protected service, under the base path of
 * {@code --arbiter zk://HOSTS/BASE}:
 * <pre>
 * BASE/SERVICE-ID/lease        EPHEMERAL: its holder's description; exists while the holder's session lives
 * BASE/SERVICE-ID/generation   PERSISTENT: the last generation handed out (decimal)
 * </pre>
 * {@link io.checkpointd.arbiter.ZkArbiter} takes the lease; {@link io.checkpointd.arbiter.GenerationCounter}
 * advances the counter by compare-and-set, in one ZooKeeper transaction with a check that the lease node still
 * exists, issued on the very session that created it.
 */
package io.checkpointd.arbiter;
