package io.checkpointd.primary.release.packets;

import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.net.Cidr;
import io.checkpointd.linux.net.nfqueue.NetNamespace;
import io.checkpointd.linux.net.nfqueue.NfQueue;
import io.checkpointd.protocol.status.Json;
import io.checkpointd.protocol.status.Window;
import java.io.IOException;
import java.util.OptionalInt;
import java.util.function.LongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Output commit at the packet level ({@code protect --hold packets}): every packet the protected process sends
 * waits in a netfilter queue until the backup acknowledged the epoch it was sent in. A reader thread takes packet
 * ids from the queue as they come ({@link NfQueue}); {@link #seal} (process frozen) drains the queue, so every id
 * read so far belongs to the epoch just ended; {@link #release} accepts up to that epoch's last id with one batch
 * verdict; {@link #dropAll} drops everything held (fenced: a newer generation exists). If this process dies, its
 * queue socket closes and the kernel drops what it held and, with no reader, all later packets of the process.
 * While the backup is lost under {@code --on-backup-loss continue}, {@link #passThrough} releases what is held and
 * accepts each packet as it is read, until {@link #holdAgain}.
 */
public final class PacketHold implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PacketHold.class);
    /** Queue numbers tried in turn at start (another reader's queue is refused with EPERM). */
    static final int FIRST_QUEUE = 3100, QUEUES = 64;
    /** Packets the kernel holds before it drops new ones (TCP sends them again); GSO packets count once. */
    static final int MAX_PACKETS = 16384;
    /** The queue socket's receive buffer: reports of ~16k packets. */
    static final int RCVBUF = 32 << 20;

    private final int pid;
    private final NfQueue queue;
    private final HoldRules rules;
    private final HeldEpochs epochs = new HeldEpochs();
    private final Window heldMs = new Window(1024);
    private final Thread reader;
    private final LongConsumer outputHeld;
    private volatile boolean closing;
    /** Packets are accepted as they are read, not held (the backup is lost, the policy is continue). */
    private boolean passing;
    private long releasedPackets, releasedBytes, droppedPackets, passedPackets, verdicts, readErrors;
    private int lastAccepted;
    private boolean anyAccepted;

    private PacketHold(int pid, NfQueue queue, HoldRules rules, LongConsumer outputHeld) {
        this.pid = pid;
        this.queue = queue;
        this.rules = rules;
        this.outputHeld = outputHeld;
        this.reader = new Thread(this::readLoop, "packet-hold-" + pid);
        reader.setDaemon(true);
    }

    /**
     * Opens a queue in the network namespace of {@code pid}, selects the process's packets for it and starts
     * reading.
     *
     * @param outputHeld told the epoch the first time a packet of that epoch is held (ends the epoch on output)
     */
    public static PacketHold start(int pid, LongConsumer outputHeld) throws IOException, InterruptedException {
        return start(pid, outputHeld, null);
    }

    /**
     * As {@link #start(int, LongConsumer)}, and with {@code serviceAddress} (not null) every packet from the service's
     * own address is held too, and {@link #withdraw()} takes the address off the host.
     */
    public static PacketHold start(int pid, LongConsumer outputHeld, Cidr serviceAddress)
            throws IOException, InterruptedException {
        NfQueue q = NetNamespace.in(pid, () -> openFreeQueue(pid));
        try {
            HoldRules rules = HoldRules.install(pid, q.queue(), serviceAddress);
            PacketHold h = new PacketHold(pid, q, rules, outputHeld);
            h.reader.start();
            log.info("pid {}: packets held on queue {} (cgroup {}, {} sockets marked 0x{}{})", pid, q.queue(), rules.cgroupPath(),
                    rules.markedSockets(), Integer.toHexString(HoldRules.mark(q.queue())),
                    rules.serviceAddress() == null ? "" : ", every packet from " + rules.serviceAddress().describe());
            return h;
        } catch (IOException | InterruptedException | RuntimeException e) {
            q.close();
            throw e;
        }
    }

    private static NfQueue openFreeQueue(int pid) throws SyscallException {
        SyscallException last = null;
        for (int n = FIRST_QUEUE; n < FIRST_QUEUE + QUEUES; n++) {
            try {
                return NfQueue.open(n, MAX_PACKETS, RCVBUF);
            } catch (SyscallException e) {
                if (e.errno() != io.checkpointd.linux.Errno.EPERM) throw e;
                last = e;
            }
        }
        throw new SyscallException("nfnetlink_queue", last.errno(), "queues " + FIRST_QUEUE + "-" + (FIRST_QUEUE + QUEUES - 1)
                + " all have readers in the network namespace of pid " + pid);
    }

    private void readLoop() {
        while (!closing) {
            try {
                queue.awaitReadable(100);
                drainNow();
            } catch (SyscallException e) {
                if (closing) return;
                synchronized (this) {
                    readErrors++;
                }
                log.error("reading the packet queue: {}", e.getMessage());
                try {
                    Thread.sleep(100);
                } catch (InterruptedException ie) {
                    return;
                }
            }
        }
    }

    /** Reads what the queue holds now; tells the schedule when the open epoch got its first packet. */
    private void drainNow() throws SyscallException {
        long firstOf = -1;
        synchronized (this) {
            if (closing) return;
            if (passing) {
                passNow();
                return;
            }
            long now = System.nanoTime();
            long[] first = {-1};
            queue.drain((id, len) -> {
                if (epochs.add(id, len, now)) first[0] = epochs.openEpoch();
            });
            firstOf = first[0];
        }
        if (firstOf >= 0) outputHeld.accept(firstOf);
    }

    /** Accepts every packet in the queue now, with one verdict. */
    private void passNow() throws SyscallException {
        int[] last = new int[1];
        long[] n = new long[1];
        queue.drain((id, len) -> {
            last[0] = id;
            n[0]++;
        });
        if (n[0] == 0) return;
        queue.verdict(last[0], NfQueue.NF_ACCEPT);
        verdicts++;
        passedPackets += n[0];
        lastAccepted = last[0];
        anyAccepted = true;
    }

    /**
     * The backup is lost and protection continues without it: every packet held now is accepted (one verdict), and
     * from now on each packet is accepted as soon as it is read, until {@link #holdAgain}.
     */
    public synchronized void passThrough() {
        if (closing || passing) return;
        try {
            queue.drain((id, len) -> epochs.add(id, len, System.nanoTime()));
        } catch (SyscallException e) {
            log.warn("reading the packet queue before passing it through: {}", e.getMessage());
        }
        long packets = epochs.heldPackets();
        OptionalInt last = epochs.dropAll(); // forgets them as held: they are accepted here
        passing = true;
        if (last.isEmpty()) return;
        try {
            queue.verdict(last.getAsInt(), NfQueue.NF_ACCEPT);
            verdicts++;
            passedPackets += packets;
            lastAccepted = last.getAsInt();
            anyAccepted = true;
        } catch (SyscallException e) {
            log.error("passing the held packets through: {} (the next verdict accepts them)", e.getMessage());
        }
    }

    /** The backup is back: packets read from now on are held again, in the open epoch (call before the next freeze). */
    public synchronized void holdAgain() {
        passing = false;
    }

    /** Whether packets pass without waiting for an ack (see {@link #passThrough}). */
    public synchronized boolean passing() {
        return passing;
    }

    /**
     * Epoch {@code n} ends (the process is frozen): drains the queue to EAGAIN, so every packet the process sent
     * before the freeze is counted in {@code n} or earlier.
     */
    public void seal(long n) throws IOException {
        synchronized (this) {
            queue.drain((id, len) -> epochs.add(id, len, System.nanoTime()));
            epochs.seal(n);
        }
    }

    /** The backup acknowledged epoch {@code n}: one verdict accepts every packet of epochs up to n. */
    public synchronized void release(long n) {
        if (closing) return;
        HeldEpochs.Freed f = epochs.release(n, System.nanoTime());
        if (f == null) return;
        try {
            queue.verdict(f.lastId(), NfQueue.NF_ACCEPT);
            verdicts++;
            releasedPackets += f.packets();
            releasedBytes += f.bytes();
            lastAccepted = f.lastId();
            anyAccepted = true;
            for (long h : f.heldNanos()) heldMs.add(h / 1e6);
        } catch (SyscallException e) {
            log.error("releasing epoch {}'s packets: {}", n, e.getMessage());
        }
    }

    /** A newer generation exists: drop every packet held; none of them may ever leave. */
    public synchronized void dropAll() {
        try {
            queue.drain((id, len) -> epochs.add(id, len, System.nanoTime()));
        } catch (SyscallException e) {
            log.warn("reading the packet queue before dropping: {}", e.getMessage());
        }
        long n = epochs.heldPackets();
        OptionalInt last = epochs.dropAll();
        if (last.isEmpty()) return;
        try {
            queue.verdict(last.getAsInt(), NfQueue.NF_DROP);
            verdicts++;
            droppedPackets += n;
        } catch (SyscallException e) {
            log.error("dropping held packets: {} (closing the queue drops them too)", e.getMessage());
        }
    }

    /**
     * This host stops speaking for the service: its process died (the backup is about to be told), or this primary
     * was fenced or lost its lease (the backup takes over). First the service address leaves this host (sockets the
     * process leaves behind can send nothing more, and nothing here answers a peer's retransmission with a reset),
     * then every held packet is dropped (the backup resumes from its last acknowledged epoch).
     */
    public void withdraw() {
        ServiceAddress a = rules.serviceAddress();
        if (a != null) a.remove();
        dropAll();
    }

    /** Figures for the status file. */
    public synchronized Json status() {
        return Json.object().put("queue", queue.queue()).put("cgroup", rules.cgroupPath()).put("markedSockets", rules.markedSockets())
                .put("heldPackets", epochs.heldPackets()).put("heldBytes", epochs.heldBytes()).put("heldEpochs", epochs.heldEpochs())
                .put("releasedPackets", releasedPackets).put("releasedBytes", releasedBytes).put("droppedPackets", droppedPackets)
                .put("verdicts", verdicts).put("verdictErrors", queue.verdictErrors()).put("enobufs", queue.enobufs())
                .put("readErrors", readErrors).put("heldMs", heldMs.summary()).put("passing", passing).put("passedPackets", passedPackets)
                .put("lastAcceptedId", anyAccepted ? Integer.toUnsignedLong(lastAccepted) : -1);
    }

    /** Packets and bytes held now (for metrics). */
    public synchronized long[] held() {
        return new long[] {epochs.heldPackets(), epochs.heldBytes()};
    }

    /**
     * Ends the hold: the rules go first (the process's packets then leave directly), then the socket, which drops
     * what is still held: call {@link #release} for every acknowledged epoch before.
     */
    @Override
    public void close() {
        rules.close();
        synchronized (this) {
            closing = true;
        }
        reader.interrupt();
        try {
            reader.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        synchronized (this) {
            queue.close();
        }
    }
}
