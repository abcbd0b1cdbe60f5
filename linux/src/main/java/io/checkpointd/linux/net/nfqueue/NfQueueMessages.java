package io.checkpointd.linux.net.nfqueue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The few {@code nfnetlink_queue} messages the hold needs ({@code <linux/netfilter/nfnetlink_queue.h>}), built and
 * parsed in plain Java: netlink headers in host order, the queue's own fields big-endian. Constants under their C
 * names.
 */
final class NfQueueMessages {
    static final int NLMSG_HDRLEN = 16, NFGEN_HDRLEN = 4;
    static final int NLM_F_REQUEST = 1, NLM_F_ACK = 4;
    static final int NLMSG_ERROR = 2, NLMSG_DONE = 3;
    /** {@code NFNL_SUBSYS_QUEUE << 8 | msg} */
    static final int NFQNL_MSG_PACKET = 3 << 8, NFQNL_MSG_CONFIG = 3 << 8 | 2, NFQNL_MSG_VERDICT_BATCH = 3 << 8 | 3;
    static final int NFQA_CFG_CMD = 1, NFQA_CFG_PARAMS = 2, NFQA_CFG_QUEUE_MAXLEN = 3, NFQA_CFG_MASK = 4, NFQA_CFG_FLAGS = 5;
    static final int NFQNL_CFG_CMD_BIND = 1, NFQNL_CFG_CMD_UNBIND = 2;
    static final int NFQNL_COPY_PACKET = 2;
    /** Fail-open stays off (a full queue drops: safe); GSO packets are queued whole (one id, one verdict). */
    static final int NFQA_CFG_F_FAIL_OPEN = 1, NFQA_CFG_F_GSO = 1 << 2;
    static final int NFQA_PACKET_HDR = 1, NFQA_VERDICT_HDR = 2, NFQA_PAYLOAD = 10, NFQA_CAP_LEN = 13;
    private static final int NLA_TYPE_MASK = 0x3fff;

    /** A message read from the queue socket. */
    interface Sink {
        /** A queued packet: its id and its length on the wire (bytes, whole IP packet). */
        void packet(int id, int length);

        /** An NLMSG_ERROR answering sequence number {@code seq}: errno 0 is an ACK. */
        void answer(int seq, int errno);
    }

    private NfQueueMessages() {
    }

    /** A config message for queue {@code queue}: the attributes are given whole (header included). */
    static byte[] config(int queue, int seq, boolean ack, byte[]... attrs) {
        int len = NLMSG_HDRLEN + NFGEN_HDRLEN;
        for (byte[] a : attrs) len += a.length;
        ByteBuffer b = header(len, NFQNL_MSG_CONFIG, NLM_F_REQUEST | (ack ? NLM_F_ACK : 0), seq, queue);
        for (byte[] a : attrs) b.put(a);
        return b.array();
    }

    /** {@code NFQA_CFG_CMD}: bind or unbind the socket to the queue. */
    static byte[] cmd(int command) {
        return attr(NFQA_CFG_CMD, ByteBuffer.allocate(4).put((byte) command).put((byte) 0).putShort((short) 0).array());
    }

    /** {@code NFQA_CFG_PARAMS}: copy mode and range (packed: 5 bytes). */
    static byte[] params(int mode, int range) {
        return attr(NFQA_CFG_PARAMS, ByteBuffer.allocate(5).putInt(range).put((byte) mode).array());
    }

    static byte[] be32(int type, int value) {
        return attr(type, ByteBuffer.allocate(4).putInt(value).array());
    }

    /** One verdict for every packet queued with an id up to {@code maxId}. */
    static byte[] verdictBatch(int queue, int seq, int maxId, int verdict) {
        ByteBuffer b = header(NLMSG_HDRLEN + NFGEN_HDRLEN + 12, NFQNL_MSG_VERDICT_BATCH, NLM_F_REQUEST, seq, queue);
        b.put(attr(NFQA_VERDICT_HDR, ByteBuffer.allocate(8).putInt(verdict).putInt(maxId).array()));
        return b.array();
    }

    private static ByteBuffer header(int len, int type, int flags, int seq, int queue) {
        ByteBuffer b = ByteBuffer.allocate(len).order(ByteOrder.nativeOrder());
        b.putInt(len).putShort((short) type).putShort((short) flags).putInt(seq).putInt(0);
        b.put((byte) 0).put((byte) 0).order(ByteOrder.BIG_ENDIAN).putShort((short) queue).order(ByteOrder.nativeOrder());
        return b;
    }

    /** A netlink attribute, padded to 4 bytes. */
    private static byte[] attr(int type, byte[] payload) {
        int len = 4 + payload.length;
        ByteBuffer b = ByteBuffer.allocate((len + 3) & ~3).order(ByteOrder.nativeOrder());
        b.putShort((short) len).putShort((short) type).put(payload);
        return b.array();
    }

    /** Passes every message in {@code buf[0, n)} to {@code sink}. @return the number of packets */
    static int parse(byte[] buf, int n, Sink sink) {
        ByteBuffer b = ByteBuffer.wrap(buf, 0, n).order(ByteOrder.nativeOrder());
        int packets = 0;
        for (int off = 0; off + NLMSG_HDRLEN <= n; ) {
            int len = b.getInt(off), type = b.getShort(off + 4) & 0xffff;
            if (len < NLMSG_HDRLEN || off + len > n) break;
            if (type == NLMSG_ERROR && len >= NLMSG_HDRLEN + 4) {
                sink.answer(b.getInt(off + 8), -b.getInt(off + NLMSG_HDRLEN)); // an answer carries the request's seq
            } else if (type == NFQNL_MSG_PACKET) {
                parsePacket(b, off + NLMSG_HDRLEN + NFGEN_HDRLEN, off + len, sink);
                packets++;
            }
            off += (len + 3) & ~3;
        }
        return packets;
    }

    private static void parsePacket(ByteBuffer b, int from, int end, Sink sink) {
        int id = 0, capLen = -1, payload = 0;
        boolean hasId = false;
        for (int a = from; a + 4 <= end; ) {
            int alen = b.getShort(a) & 0xffff, atype = b.getShort(a + 2) & NLA_TYPE_MASK;
            if (alen < 4) break;
            if (atype == NFQA_PACKET_HDR && alen >= 8) {
                id = b.order(ByteOrder.BIG_ENDIAN).getInt(a + 4);
                hasId = true;
            }
            else if (atype == NFQA_CAP_LEN && alen >= 8) capLen = b.order(ByteOrder.BIG_ENDIAN).getInt(a + 4);
            else if (atype == NFQA_PAYLOAD) payload = alen - 4;
            b.order(ByteOrder.nativeOrder());
            a += (alen + 3) & ~3;
        }
        if (hasId) sink.packet(id, capLen >= 0 ? capLen : payload);
    }
}
