package io.checkpointd.linux.net.nfqueue;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.checkpointd.linux.Syscalls;
import io.checkpointd.linux.testing.Children;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The queue against the kernel, in a network namespace of the test's own (a child {@code unshare -n}): datagrams to
 * port 9999 go to the queue; a receiver in the same namespace sees one only after its verdict.
 */
@Timeout(60)
class NfQueueTest {
    private static final int QUEUE = 77, PORT = 9999;
    private final Children children = new Children();
    private int nsPid;
    private DatagramChannel sender, receiver;

    @BeforeEach
    void namespace() throws Exception {
        assumeTrue(Syscalls.geteuid() == 0, "needs root (a network namespace, iptables, NETLINK_NETFILTER)");
        Process p = children.start(new ProcessBuilder("unshare", "-n", "sleep", "120"));
        nsPid = (int) p.pid();
        for (int i = 0; i < 100 && NetNamespace.isOwn(nsPid); i++) Thread.sleep(10); // unshare runs, then execs sleep
        assumeTrue(!NetNamespace.isOwn(nsPid), "unshare -n did not make a namespace");
        run("ip", "link", "set", "lo", "up");
        run("iptables", "-w", "-t", "mangle", "-A", "OUTPUT", "-p", "udp", "--dport", Integer.toString(PORT),
                "-j", "NFQUEUE", "--queue-num", Integer.toString(QUEUE));
        NetNamespace.in(nsPid, () -> {
            receiver = DatagramChannel.open().bind(new InetSocketAddress("127.0.0.1", PORT));
            sender = DatagramChannel.open();
            return null;
        });
        receiver.socket().setSoTimeout(300);
    }

    @AfterEach
    void end() throws Exception {
        if (sender != null) sender.close();
        if (receiver != null) receiver.close();
        children.close(); // the namespace, its rule and sockets go with its last process
    }

    @Test
    void packetsWaitForTheirVerdictAndOneBatchAcceptsUpToAnId() throws Exception {
        try (NfQueue q = NetNamespace.in(nsPid, () -> NfQueue.open(QUEUE, 1024, 1 << 20))) {
            for (int i = 1; i <= 3; i++) send(i);
            List<int[]> read = readAtLeast(q, 3);
            assertThat(read).hasSize(3);
            assertThat(read.get(0)[1]).as("whole IP packet: 20 + 8 + 4 bytes").isEqualTo(32);
            assertThat(NfQueue.after(read.get(2)[0], read.get(1)[0])).isTrue();
            assertThat(receive()).as("held").isEmpty();
            q.verdict(read.get(1)[0], NfQueue.NF_ACCEPT);
            assertThat(receive()).containsExactly(1, 2);
            q.verdict(read.get(2)[0], NfQueue.NF_ACCEPT);
            assertThat(receive()).containsExactly(3);
            q.drain((id, len) -> { });
            assertThat(q.verdictErrors()).isZero();
        }
    }

    @Test
    void aDropVerdictNeverLetsAPacketOut() throws Exception {
        try (NfQueue q = NetNamespace.in(nsPid, () -> NfQueue.open(QUEUE, 1024, 1 << 20))) {
            send(1);
            send(2);
            List<int[]> read = readAtLeast(q, 2);
            q.verdict(read.get(1)[0], NfQueue.NF_DROP);
            assertThat(receive()).isEmpty();
            send(3);
            q.verdict(readAtLeast(q, 1).get(0)[0], NfQueue.NF_ACCEPT);
            assertThat(receive()).containsExactly(3);
        }
    }

    /** Primary death: its queue socket closes, and the kernel drops what was held and, with no reader, what comes. */
    @Test
    void closingTheSocketDropsEveryHeldPacketAndLaterOnes() throws Exception {
        NfQueue q = NetNamespace.in(nsPid, () -> NfQueue.open(QUEUE, 1024, 1 << 20));
        send(1);
        send(2);
        readAtLeast(q, 2);
        q.close();
        assertThat(receive()).as("held packets dropped with the socket").isEmpty();
        send(3);
        assertThat(receive()).as("no reader, no bypass: dropped").isEmpty();
        try (NfQueue again = NetNamespace.in(nsPid, () -> NfQueue.open(QUEUE, 1024, 1 << 20))) {
            send(4);
            again.verdict(readAtLeast(again, 1).get(0)[0], NfQueue.NF_ACCEPT);
            assertThat(receive()).as("only what was sent to the new reader").containsExactly(4);
        }
    }

    @Test
    void aSecondReaderOfTheSameQueueIsRefused() throws Exception {
        try (NfQueue q = NetNamespace.in(nsPid, () -> NfQueue.open(QUEUE, 1024, 1 << 20))) {
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> NetNamespace.in(nsPid, () -> NfQueue.open(QUEUE, 1024, 1 << 20)))
                    .hasMessageContaining("EPERM");
        }
    }

    private void send(int n) throws IOException {
        sender.send(ByteBuffer.allocate(4).putInt(0, n), new InetSocketAddress("127.0.0.1", PORT));
    }

    /** Every datagram that arrives within 300 ms of the last one. */
    private List<Integer> receive() throws IOException {
        List<Integer> got = new ArrayList<>();
        byte[] b = new byte[64];
        java.net.DatagramPacket p = new java.net.DatagramPacket(b, b.length);
        while (true) {
            try {
                receiver.socket().receive(p);
            } catch (SocketTimeoutException e) {
                return got;
            }
            got.add(ByteBuffer.wrap(b, 0, p.getLength()).getInt());
        }
    }

    private static List<int[]> readAtLeast(NfQueue q, int n) throws IOException {
        List<int[]> read = new ArrayList<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (read.size() < n && System.nanoTime() < deadline) {
            q.awaitReadable(100);
            q.drain((id, len) -> read.add(new int[] {id, len}));
        }
        return read;
    }

    private void run(String... cmd) throws IOException, InterruptedException {
        List<String> c = new ArrayList<>(List.of("nsenter", "--net=/proc/" + nsPid + "/ns/net"));
        c.addAll(List.of(cmd));
        Process p = new ProcessBuilder(c).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) throw new IOException(String.join(" ", cmd) + ": " + out);
    }
}
