package io.checkpointd.primary.ship;

import io.checkpointd.protocol.Frame;
import io.checkpointd.protocol.FrameType;
import io.checkpointd.protocol.auth.ChannelKey;
import io.checkpointd.protocol.replication.Hello;
import io.checkpointd.protocol.status.Window;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The primary's link to its backup: the replication connection, the window of epochs in flight (at most
 * {@code maxInFlight} captured and not yet answered), the backup's ACKs and NACKs, its silence, and reconnection.
 * Any NACK or new connection asks for a full sync: the next epoch must ship everything.
 */
public final class BackupLink implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(BackupLink.class);
    /** Record bytes the ship stage may hold before the epoch loop blocks (back-pressure when the backup lags). */
    static final long MAX_QUEUED_BYTES = 16L << 20;
    /**
     * Fault point for tests: the ship stage waits this many ms before writing each EPOCH_END, so an epoch is still
     * shipping when the next one is captured (the pipeline test). Unset: no wait.
     */
    public static final String END_WRITE_DELAY_PROPERTY = "checkpointd.fault.shipEndDelayMs";
    private static final long END_WRITE_DELAY_MS = Long.getLong(END_WRITE_DELAY_PROPERTY, 0);
    /**
     * An epoch's burst of at most this many record bytes that finds the ship stage idle is written by the epoch loop
     * itself: a small epoch, which a reply waits for, skips a thread hand-off. Off with the END delay fault point,
     * whose wait must not hold the loop.
     */
    static final long INLINE_MAX_BYTES = END_WRITE_DELAY_MS > 0 ? 0 : 128L << 10;

    /** What the epoch loop hears from the link. Called on the connection's event loop: must not block for long. */
    public interface Listener {
        /** The backup committed epoch {@code n}: its output may be released. */
        void acked(long n);

        /** The backup's image is not what was shipped (a NACK or a new connection): XOR bases are void. */
        void invalidated();
    }

    private final InetSocketAddress backup;
    private final ChannelKey key;
    /** Made at each connect: what the primary says of itself can grow after construction (the packet hold). */
    private final java.util.function.Supplier<Hello> hello;
    private final Duration heartbeat;
    private final Duration backupTimeout;
    private final int maxInFlight;
    private final Listener listener;
    /** What an unreachable backup means for the service's output, for the log. */
    private final String whileUnreachable;
    private final Semaphore window;
    private final Map<Long, Sent> inFlight = new ConcurrentHashMap<>();
    private final Window ackMs = new Window(1024);
    /** Set by a NACK or a lost connection, taken (atomically cleared) by the epoch that ships in full. */
    private final AtomicBoolean needFull = new AtomicBoolean(true);
    private volatile ReplicationClient client;
    private volatile long fencedBy = -1;
    private volatile long lastAcked = -1;
    private volatile long epochsAcked;
    /** NACKs since the last ACK, and the latest reason: the backup's store may be full or read-only. */
    private volatile int nackStreak;
    private volatile String lastNack = "";
    /** When the backup last answered (ACK or NACK) or we connected: its silence beyond backupTimeout is a loss. */
    private volatile long lastAnswerNanos = System.nanoTime();
    /** When the last EPOCH_END went out. */
    private volatile long lastEndSentNanos = System.nanoTime();
    private long unreachableLogged;
    /** Writes the epochs' frames on a thread of its own (compression included), so the next capture need not wait. */
    private final SendStage stage;

    /**
     * An epoch holding a window slot, from its EPOCH_BEGIN until its ACK or NACK: registered before anything is sent,
     * because the backup may NACK at the first bad record, long before the epoch's END goes out.
     */
    private static final class Sent {
        volatile long endNanos;
    }

    public BackupLink(InetSocketAddress backup, ChannelKey key, java.util.function.Supplier<Hello> hello, Duration heartbeat, Duration backupTimeout,
            int maxInFlight, String whileUnreachable, Listener listener) {
        this.backup = backup;
        this.key = key;
        this.hello = hello;
        this.heartbeat = heartbeat;
        this.backupTimeout = backupTimeout;
        this.maxInFlight = maxInFlight;
        this.listener = listener;
        this.whileUnreachable = whileUnreachable;
        this.window = new Semaphore(maxInFlight);
        this.stage = new SendStage(this::sendNow, MAX_QUEUED_BYTES, INLINE_MAX_BYTES, "checkpointd-ship");
    }

    /** The first connection; its failure (unreachable, fenced) is the caller's to report. */
    public void connect() throws IOException, InterruptedException {
        client = ReplicationClient.connect(backup, key, hello.get(), heartbeat, Duration.ofSeconds(5), new Answers());
        log.info("connected to backup {} (it has committed generation {}, epoch {})", backup,
                client.helloOk().committedGeneration(), client.helloOk().committedEpoch());
    }

    public boolean isConnected() {
        ReplicationClient c = client;
        return c != null && c.isConnected();
    }

    /**
     * Drops the connection and everything in flight and connects again; the next epoch is a full sync.
     *
     * @return false if the backup is unreachable (after a short pause) or has fenced this generation
     */
    public boolean reconnect() throws InterruptedException {
        if (client != null) client.close();
        stage.reset(); // frames queued for the old connection never reach the new one
        client = null;
        inFlight.clear();
        window.drainPermits();
        window.release(maxInFlight);
        needFull.set(true);
        listener.invalidated();
        try {
            client = ReplicationClient.connect(backup, key, hello.get(), heartbeat, Duration.ofSeconds(2), new Answers());
            lastAnswerNanos = System.nanoTime();
            unreachableLogged = 0;
            log.info("reconnected to backup {}: starting over with a full sync", backup);
            return true;
        } catch (ReplicationClient.FencedException e) {
            fencedBy = e.fencedGeneration();
            return false;
        } catch (IOException e) {
            if (unreachableLogged++ % 25 == 0) log.warn("backup {} unreachable: {} ({})", backup, e.getMessage(), whileUnreachable);
            Thread.sleep(200);
            return false;
        }
    }

    /**
     * Takes a window slot for the next epoch, waiting at most {@code waitNanos}. When none frees up and the backup
     * has been silent for longer than the backup timeout (a hung host, a half-open connection), the connection is
     * closed so the next call reconnects.
     */
    public boolean acquireSlot(long waitNanos) throws InterruptedException {
        if (window.tryAcquire(waitNanos, TimeUnit.NANOSECONDS)) return true;
        // silence counts from the later of the last answer and the end of the last epoch sent: a long full sync
        // cannot be answered before it ends
        long since = Math.max(Math.max(lastAnswerNanos, lastEndSentNanos), stage.lastWrittenNanos());
        if (!inFlight.isEmpty() && System.nanoTime() - since > backupTimeout.toNanos()) {
            log.warn("backup {} has not answered for {} ms: reconnecting", backup, backupTimeout.toMillis());
            client.close();
        }
        return false;
    }

    /** Gives back a slot taken for an epoch that was not shipped. */
    public void releaseSlot() {
        window.release();
    }

    /** Whether the next epoch must be a full sync; clears the request (a NACK meanwhile sets it again). */
    public boolean takeNeedFull() {
        return needFull.getAndSet(false);
    }

    /** The next epoch must be a full sync (this one failed to ship, or the capture was lost). */
    public void requestFull() {
        needFull.set(true);
    }

    /** Epoch {@code n} starts shipping: it holds its slot until answered. */
    public void begin(long n) {
        inFlight.put(n, new Sent());
    }

    /** Epoch {@code n}'s END went out: its ack latency counts from now. */
    public void ended(long n) {
        long now = System.nanoTime();
        Sent s = inFlight.get(n);
        if (s != null) s.endNanos = now;
        lastEndSentNanos = now;
    }

    /**
     * Queues one frame for the ship stage, behind every frame queued before; {@code sent} hears its wire size once
     * it is written. Blocks while the stage holds {@link #MAX_QUEUED_BYTES}.
     *
     * @throws IOException if a frame queued on this connection could not be written (the connection broke)
     */
    public void send(Frame f, SendStage.Sent sent) throws IOException, InterruptedException {
        if (client == null) throw new IOException("not connected to backup " + backup);
        stage.enqueue(f, sent);
    }

    /**
     * Queues a burst of frames at once (see {@link SendStage#enqueueAll}): one flush after the last; a small burst
     * finding the stage idle is written on the caller's thread.
     */
    public void sendAll(List<Frame> frames, List<SendStage.Sent> sent) throws IOException, InterruptedException {
        if (client == null) throw new IOException("not connected to backup " + backup);
        stage.enqueueAll(frames, sent);
    }

    /** As {@link #send(Frame, SendStage.Sent)}, nobody told when it is written. */
    public void send(Frame f) throws IOException, InterruptedException {
        send(f, SendStage.Sent.NONE);
    }

    /** The ship stage's thread: one frame onto the current connection. */
    private int sendNow(Frame f, boolean flush) throws IOException, InterruptedException {
        if (END_WRITE_DELAY_MS > 0 && f.type() == FrameType.EPOCH_END) Thread.sleep(END_WRITE_DELAY_MS);
        ReplicationClient c = client;
        if (c == null) throw new IOException("not connected to backup " + backup);
        return c.send(f, flush);
    }

    /** Whether an epoch's frames are still queued or being written: the ship of an earlier epoch is not over. */
    public boolean shipping() {
        return stage.busy();
    }

    /** The ship stage's figures for status. */
    public io.checkpointd.protocol.status.Json shipStage() {
        return stage.status();
    }

    /** Waits until what was sent so far is in the socket (a fault point's wait): the ship stage, then the channel. */
    public void drain(Duration timeout) {
        try {
            if (!stage.awaitSent(timeout)) return;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        ReplicationClient c = client;
        if (c != null) c.drain(timeout);
    }

    /** Tells the backup the protected process exited, so it takes over now: behind the epochs queued, then waited for. */
    public void sendPrimaryExit(long generation, long epoch) throws IOException, InterruptedException {
        send(Frame.of(FrameType.PRIMARY_EXIT, generation, epoch));
        drain(Duration.ofSeconds(2));
    }

    /** Bytes written to the wire on the current connection. */
    public long wireBytes() {
        ReplicationClient c = client;
        return c == null ? 0 : c.wireBytes();
    }

    /** The generation that fenced us, or -1. */
    public long fencedBy() {
        return fencedBy;
    }

    public long lastAcked() {
        return lastAcked;
    }

    public long epochsAcked() {
        return epochsAcked;
    }

    public int nackStreak() {
        return nackStreak;
    }

    public String lastNack() {
        return lastNack;
    }

    public int inFlight() {
        return inFlight.size();
    }

    /** From EPOCH_END sent to ACK received, ms. */
    public Window ackMs() {
        return ackMs;
    }

    @Override
    public void close() {
        ReplicationClient c = client;
        if (c != null) c.close();
        stage.close();
    }

    private final class Answers implements ReplicationClient.Listener {
        @Override
        public void acked(long generation, long n) {
            lastAnswerNanos = System.nanoTime();
            Sent s = inFlight.remove(n);
            if (s == null) return; // an epoch of a previous connection: its slot was already reset
            if (s.endNanos != 0) ackMs.add((System.nanoTime() - s.endNanos) / 1e6);
            lastAcked = Math.max(lastAcked, n);
            epochsAcked++;
            nackStreak = 0;
            listener.acked(n);
            window.release();
        }

        @Override
        public void nacked(long n, String reason) {
            lastAnswerNanos = System.nanoTime();
            if (nackStreak++ % 20 == 0) log.warn("backup rejected epoch {}: {}; the next epoch is a full sync", n, reason);
            lastNack = reason;
            needFull.set(true);
            listener.invalidated(); // XOR bases: the backup's image is not what was shipped
            if (inFlight.remove(n) != null) window.release();
        }

        @Override
        public void fenced(long fencedGeneration) {
            fencedBy = fencedGeneration;
        }

        @Override
        public void disconnected() {
            log.warn("lost the connection to backup {}", backup);
        }
    }
}
