package io.checkpointd.demo;

import java.util.Random;

/**
 * Live heap for large-JVM measurements: {@code mb} MiB of 256 KiB arrays (below G1's humongous size), half random (incompressible) and half a
 * repeated pattern, as a real heap is partly compressible; kept reachable for the life of the JVM. A daemon thread
 * rewrites 64 KiB at a random place, {@code rate} MB/s in all (6.4 by default), so epochs are not empty.
 */
final class Ballast implements Runnable {
    private static final int CHUNK = 256 << 10;
    /** Reachable from a static so the collector never frees it. */
    private static volatile Ballast live;
    private final byte[][] chunks;
    private final Random rnd = new Random(7);
    private final double rateMbPerS;

    private Ballast(int mb, double rateMbPerS) {
        this.rateMbPerS = rateMbPerS;
        chunks = new byte[mb * ((1 << 20) / CHUNK)][];
        for (int i = 0; i < chunks.length; i++) {
            byte[] c = new byte[CHUNK];
            fill(c, 0, CHUNK);
            chunks[i] = c;
        }
    }

    /** Allocates {@code mb} MiB and starts the writer thread, rewriting {@code rateMbPerS} MB/s. */
    static void start(int mb, double rateMbPerS) {
        if (mb <= 0) return;
        live = new Ballast(mb, rateMbPerS);
        Thread t = new Thread(live, "ballast");
        t.setDaemon(true);
        t.start();
    }

    private void fill(byte[] c, int from, int len) {
        byte[] r = new byte[len / 2];
        rnd.nextBytes(r);
        System.arraycopy(r, 0, c, from, r.length);
        for (int i = from + r.length; i < from + len; i++) c[i] = (byte) (i & 0x3f);
    }

    @Override
    public void run() {
        try {
            long perTick = Math.max(1, Math.round(rateMbPerS * 1e6 / 100 / 65536)); // 64 KiB writes per 10 ms
            while (true) {
                for (long i = 0; i < perTick; i++) {
                    byte[] c = chunks[rnd.nextInt(chunks.length)];
                    fill(c, rnd.nextInt(CHUNK / 65536) * 65536, 65536);
                }
                Thread.sleep(10);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
