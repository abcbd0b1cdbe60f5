package io.checkpointd.linux.testing;

import com.sun.jna.Function;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import java.io.BufferedReader;
import java.io.InputStreamReader;

/**
 * Child JVM for the memory tests: fills a page-aligned 1 MiB region with {@link #pattern} and prints
 * {@code ADDR <hex address> <length>}; then obeys stdin: {@code w <offset> <value>} writes one byte and
 * answers {@code ok}; {@code remap <offset>} replaces that page by a fresh anonymous mapping (as a JVM
 * uncommitting and recommitting heap does) and answers {@code ok}; {@code q} exits.
 */
public final class MemoryChild {
    public static final int LENGTH = 1 << 20;

    public static byte pattern(int i) {
        return (byte) (i * 31 + 7);
    }

    public static void main(String[] args) throws Exception {
        // 1 MiB + a page is above malloc's mmap threshold: the region is its own mapping, nobody else writes there.
        Memory mem = new Memory(LENGTH + 4096);
        long base = (Pointer.nativeValue(mem) + 4095) & ~4095L;
        Pointer p = new Pointer(base);
        for (int i = 0; i < LENGTH; i++) p.setByte(i, pattern(i));
        System.out.println("ADDR " + Long.toHexString(base) + " " + LENGTH);
        System.out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        for (String line; (line = in.readLine()) != null; ) {
            String[] f = line.trim().split(" ");
            if (f[0].equals("w")) {
                p.setByte(Integer.parseInt(f[1]), (byte) Integer.parseInt(f[2]));
                System.out.println("ok");
                System.out.flush();
            } else if (f[0].equals("remap")) {
                // mmap(addr, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0)
                Pointer r = Function.getFunction("c", "mmap").invokePointer(
                        new Object[] {new Pointer(base + Integer.parseInt(f[1])), 4096L, 3, 0x02 | 0x20 | 0x10, -1, 0L});
                if (Pointer.nativeValue(r) == -1L) throw new IllegalStateException("mmap failed");
                System.out.println("ok");
                System.out.flush();
            } else if (f[0].equals("q")) {
                break;
            }
        }
        mem.close();
    }
}
