package io.checkpointd.protocol.control;

import io.checkpointd.protocol.Frame;
import io.checkpointd.protocol.FrameCodec;
import io.checkpointd.protocol.FrameType;
import io.checkpointd.protocol.ProtocolException;
import io.checkpointd.protocol.auth.AuthHandshake;
import io.checkpointd.protocol.auth.ChannelKey;
import io.checkpointd.protocol.auth.FrameAuth;
import io.checkpointd.protocol.auth.Link;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Blocking, thread-safe client of the output-commit proxy's control port.
 *
 * <p>Requests are written in call order under one lock and the proxy answers in order, so a FIFO of pending replies
 * matches answers to requests; a reader thread completes them. {@link #release} does not wait for its answer
 * (the primary should not stall on it), but because it is written before any later seal it can never be reordered
 * with one. A rejected or failed release is thrown by the next call (or by {@link #sync}).
 *
 * <p>With TLS credentials the socket is TLS 1.3 and the proxy's certificate must name the proxy role. With a
 * shared {@link ChannelKey} the connection starts with the {@link AuthHandshake} and every frame both ways is
 * MAC'd; requests are encoded (and signed) under the same lock that orders their writes.
 *
 * <p>The proxy's one unsolicited frame, OUTPUT_HELD (the open epoch holds output), is not an answer: the reader
 * hands it to the {@link #onOutputHeld} listener and matches nothing with it.
 */
public final class ProxyControlClient implements AutoCloseable {
    /** Largest reply we accept: replies carry at most a short reason. */
    private static final int MAX_REPLY_WIRE = 64 * 1024;

    private final Socket socket;
    private final FrameAuth auth;
    private final OutputStream out;
    private final DataInputStream in;
    private final Thread reader;
    private final Object lock = new Object();
    /** Requests written and not yet answered, oldest first. Guarded by {@link #lock}. */
    private final ArrayDeque<CompletableFuture<Frame>> pending = new ArrayDeque<>();
    /** Completes once the latest request's answer is fully processed (for releases: after the error is recorded). */
    private CompletableFuture<?> lastProcessed = CompletableFuture.completedFuture(null);
    /** First failure of an unawaited release, thrown by the next call. Guarded by {@link #lock}. */
    private IOException releaseError;
    /** Set once the connection is unusable. */
    private volatile IOException broken;
    /** Hears OUTPUT_HELD(generation, epoch) on the reader thread; must not block. */
    private volatile OutputHeldListener outputHeld = (g, e) -> { };

    /** Hears the proxy's news that the open epoch holds output. */
    @FunctionalInterface
    public interface OutputHeldListener {
        void outputHeld(long generation, long epoch);
    }

    private ProxyControlClient(Socket socket, FrameAuth auth) throws IOException {
        this.socket = socket;
        this.auth = auth;
        this.out = socket.getOutputStream();
        this.in = new DataInputStream(socket.getInputStream());
        this.reader = new Thread(this::readReplies, "proxy-control-reader " + socket.getRemoteSocketAddress());
        reader.setDaemon(true);
        reader.start();
    }

    /** Connects to the proxy's control address and authenticates with {@code key}, within {@code timeout} each. */
    public static ProxyControlClient connect(InetSocketAddress control, ChannelKey key, Duration timeout) throws IOException {
        Socket s = new Socket();
        try {
            s.setTcpNoDelay(true);
            int ms = (int) Math.max(1, timeout.toMillis());
            s.connect(control, ms);
            s.setSoTimeout(ms);
            Socket io = s;
            FrameAuth auth = FrameAuth.NONE;
            if (key.tls() != null) io = key.tls().clientSocket(s, control, Link.CONTROL); // TLS authenticates every byte
            else auth = AuthHandshake.blocking(s.getInputStream(), s.getOutputStream(), key, Link.CONTROL, FrameAuth.Side.CLIENT);
            io.setSoTimeout(0); // replies are awaited with per-call timeouts, not by the reader
            return new ProxyControlClient(io, auth);
        } catch (IOException e) {
            s.close();
            throw new IOException("cannot connect to proxy control " + control + ": " + e.getMessage(), e);
        }
    }

    /** Hands every later OUTPUT_HELD frame to {@code l} (on the reader thread). */
    public void onOutputHeld(OutputHeldListener l) {
        outputHeld = l;
    }

    /** Seals epoch {@code epoch}: returns once the proxy confirmed the boundary on every connection (SEALED). */
    public void seal(long generation, long epoch, Duration timeout) throws IOException {
        sealStart(generation, epoch).await(timeout);
    }

    /**
     * Sends SEAL for {@code epoch} and returns at once; {@link Sealing#await} waits for the proxy's SEALED, so the
     * caller may work (with the process still held) while the seal travels.
     */
    public Sealing sealStart(long generation, long epoch) throws IOException {
        Frame request = Frame.of(FrameType.SEAL, generation, epoch);
        return new Sealing(request, send(request));
    }

    /** A SEAL sent, its answer awaited by {@link #await}. */
    public static final class Sealing {
        private final Frame request;
        private final CompletableFuture<Frame> reply;

        private Sealing(Frame request, CompletableFuture<Frame> reply) {
            this.request = request;
            this.reply = reply;
        }

        /** Returns once the proxy confirmed the boundary on every connection (SEALED). */
        public void await(Duration timeout) throws IOException {
            Frame r = ProxyControlClient.await(describe(request), reply, timeout);
            if (r.type() == FrameType.CONTROL_REJECT) throwIfError(checkOk(request, r));
            if (r.type() != FrameType.SEALED || r.generation() != request.generation() || r.epoch() != request.epoch()) {
                throw new ProtocolException("SEAL(gen " + request.generation() + ", epoch " + request.epoch() + ") answered by " + r);
            }
        }
    }

    /** Releases output up to {@code epoch} without waiting for the answer; a failure surfaces on the next call. */
    public void release(long generation, long epoch) throws IOException {
        Frame request = Frame.of(FrameType.RELEASE, generation, epoch);
        synchronized (lock) { // so lastProcessed is this release's callback, not a later request's reply
            CompletableFuture<Frame> reply = send(request);
            lastProcessed = reply.whenComplete((f, err) -> {
                IOException e = err != null ? asIo(request, err) : checkOk(request, f);
                if (e != null) {
                    synchronized (lock) {
                        if (releaseError == null) releaseError = e;
                    }
                }
            });
        }
    }

    /** Announces a new generation whose service listens at {@code upstream}. */
    public void generation(long generation, InetSocketAddress upstream, Duration timeout) throws IOException {
        String hostPort = upstream.getHostString() + ":" + upstream.getPort();
        if (upstream.getHostString().indexOf(':') >= 0) hostPort = "[" + upstream.getHostString() + "]:" + upstream.getPort();
        Frame request = new Frame(FrameType.GENERATION, generation, 0, hostPort.getBytes(StandardCharsets.UTF_8));
        throwIfError(checkOk(request, call(request, timeout)));
    }

    /** Switches the current generation to unprotected mode: held output is released and later output is not held. */
    public void passthrough(long generation, Duration timeout) throws IOException {
        Frame request = Frame.of(FrameType.PASSTHROUGH, generation, 0);
        throwIfError(checkOk(request, call(request, timeout)));
    }

    /** HOLD: the generation is protected again; output read from now on waits for a RELEASE. */
    public void hold(long generation, Duration timeout) throws IOException {
        Frame request = Frame.of(FrameType.HOLD, generation, 0);
        throwIfError(checkOk(request, call(request, timeout)));
    }

    /** Waits until every earlier request is answered and throws the first release failure, if any. */
    public void sync(Duration timeout) throws IOException {
        CompletableFuture<?> last;
        synchronized (lock) {
            last = lastProcessed;
        }
        try {
            last.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new IOException("sync: no reply from proxy within " + timeout.toMillis() + " ms");
        } catch (ExecutionException e) {
            // the failure itself is reported below or by the call that was waiting for it
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("sync: interrupted", e);
        }
        synchronized (lock) {
            takeReleaseError();
        }
    }

    @Override
    public void close() throws IOException {
        broken = broken != null ? broken : new IOException("control client closed");
        socket.close();
        try {
            reader.join(2_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private Frame call(Frame request, Duration timeout) throws IOException {
        return await(describe(request), send(request), timeout);
    }

    private CompletableFuture<Frame> send(Frame request) throws IOException {
        synchronized (lock) {
            takeReleaseError();
            IOException b = broken;
            if (b != null) throw new IOException("control connection unusable: " + b.getMessage(), b);
            // signed under the lock: the MAC counter must follow the order frames are written in
            ByteBuf buf = Unpooled.buffer(FrameCodec.HEADER + request.payload().length + FrameCodec.TRAILER + auth.macLength());
            FrameCodec.encode(request, buf, auth);
            byte[] bytes = new byte[buf.readableBytes()];
            buf.readBytes(bytes);
            CompletableFuture<Frame> reply = new CompletableFuture<>();
            // Enqueue before writing: the reader may see the answer before write() returns.
            pending.addLast(reply);
            lastProcessed = reply;
            try {
                out.write(bytes);
                out.flush();
            } catch (IOException e) {
                fail(e);
                throw new IOException("cannot send " + describe(request) + ": " + e.getMessage(), e);
            }
            return reply;
        }
    }

    private void takeReleaseError() throws IOException {
        IOException e = releaseError;
        releaseError = null;
        if (e != null) throw e;
    }

    private static Frame await(String what, CompletableFuture<Frame> reply, Duration timeout) throws IOException {
        try {
            return reply.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new IOException(what + ": no reply from proxy within " + timeout.toMillis() + " ms");
        } catch (ExecutionException e) {
            throw asIo(what, e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(what + ": interrupted while waiting for the proxy", e);
        }
    }

    /** @return null if {@code reply} is CONTROL_OK for {@code request}, else the failure to report */
    private static IOException checkOk(Frame request, Frame reply) {
        if (reply.type() == FrameType.CONTROL_OK) return null;
        if (reply.type() == FrameType.CONTROL_REJECT) {
            return new ControlRejectedException(describe(request), new String(reply.payload(), StandardCharsets.UTF_8));
        }
        return new ProtocolException(describe(request) + " answered by unexpected " + reply);
    }

    private static void throwIfError(IOException e) throws IOException {
        if (e != null) throw e;
    }

    private static IOException asIo(Object what, Throwable t) {
        if (t instanceof ControlRejectedException c) return c;
        String w = what instanceof Frame f ? describe(f) : String.valueOf(what);
        return new IOException(w + " failed: " + t.getMessage(), t);
    }

    private static String describe(Frame f) {
        return f.type() + "(gen " + f.generation() + ", epoch " + f.epoch() + ")";
    }

    private void readReplies() {
        try {
            while (true) {
                Frame reply = readFrame(in, auth);
                if (reply.type() == FrameType.OUTPUT_HELD) {
                    outputHeld.outputHeld(reply.generation(), reply.epoch());
                    continue;
                }
                CompletableFuture<Frame> head;
                synchronized (lock) {
                    head = pending.pollFirst();
                }
                if (head == null) throw new ProtocolException("unsolicited reply " + reply);
                head.complete(reply); // callers turn CONTROL_REJECT into ControlRejectedException
            }
        } catch (IOException e) {
            fail(e);
        }
    }

    private void fail(IOException e) {
        IOException cause = broken != null ? broken : e;
        broken = cause;
        synchronized (lock) {
            CompletableFuture<Frame> p;
            while ((p = pending.pollFirst()) != null) p.completeExceptionally(cause);
        }
        try {
            socket.close();
        } catch (IOException ignored) {
            // already failing; the original cause is what matters
        }
    }

    /** Reads exactly one frame (of at most 64 KiB) from a blocking stream, verified against {@code auth}. */
    public static Frame readFrame(InputStream stream, FrameAuth auth) throws IOException {
        DataInputStream data = stream instanceof DataInputStream d ? d : new DataInputStream(stream);
        byte[] header = new byte[FrameCodec.HEADER];
        data.readFully(header);
        int length = FrameCodec.frameLength(Unpooled.wrappedBuffer(header), 0, MAX_REPLY_WIRE);
        byte[] frame = new byte[length];
        System.arraycopy(header, 0, frame, 0, header.length);
        data.readFully(frame, header.length, frame.length - header.length);
        Frame f = FrameCodec.decode(Unpooled.wrappedBuffer(frame), auth, MAX_REPLY_WIRE);
        if (f == null) throw new ProtocolException("truncated reply");
        return f;
    }
}
