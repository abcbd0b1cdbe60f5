/**
 * The packet hold's kernel side: a netfilter queue read over {@code nfnetlink_queue}
 * ({@link io.checkpointd.linux.net.nfqueue.NfQueue}: packet ids in, batched verdicts out), opened in a process's
 * network namespace ({@link io.checkpointd.linux.net.nfqueue.NetNamespace}), and {@code SO_MARK} on the sockets a
 * process had before it was selected ({@link io.checkpointd.linux.net.nfqueue.SocketMarks}).
 */
package io.checkpointd.linux.net.nfqueue;
