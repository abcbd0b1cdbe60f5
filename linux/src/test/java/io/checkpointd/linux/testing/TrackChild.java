package io.checkpointd.linux.testing;

import com.sun.jna.Function;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;

/**
 * Child JVM for the dirty-tracker and stop tests. Prints {@code READY}, then obeys one command per stdin line
 * and answers {@code ok [value]}:
 * <ul>
 *   <li>{@code alloc NAME PAGES TOUCH} mmaps a private anonymous region (writes every page if TOUCH is 1): {@code ok <hex address>}</li>
 *   <li>{@code write NAME PAGE COUNT VALUE} writes VALUE at offset 100 of pages PAGE..PAGE+COUNT-1</li>
 *   <li>{@code unmap NAME}, {@code dontneed NAME PAGE COUNT} ({@code madvise(MADV_DONTNEED)})</li>
 *   <li>{@code threads N} starts N idle threads, {@code busy N} N allocating ones; {@code blocksig SIG} starts a thread that blocks SIG: {@code ok <tid>}</li>
 *   <li>{@code allocdrop NAME PAGES} (MAP_DROPPABLE, {@code ok unsupported} before 6.11), {@code allocthp NAME PAGES} (2 MiB aligned, MADV_HUGEPAGE),
 *       {@code remap NAME PAGE} (fresh page over one page), {@code mprotect NAME PROT [PAGE COUNT]}</li>
 *   <li>{@code ping}; {@code q} exits 0.</li>
 * </ul>
 */
public final class TrackChild {
    private static final long PAGE = 4096;
    private static final Function MMAP = Function.getFunction("c", "mmap");
    private static final Function MUNMAP = Function.getFunction("c", "munmap");
    private static final Function MADVISE = Function.getFunction("c", "madvise");
    private static final Function SIGMASK = Function.getFunction("c", "pthread_sigmask");
    private static final Function SYSCALL = Function.getFunction("c", "syscall");

    public static void main(String[] args) throws Exception {
        Map<String, long[]> regions = new HashMap<>(); // name -> {address, pages}
        System.out.println("READY");
        System.out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        for (String line; (line = in.readLine()) != null; ) {
            String[] f = line.trim().split(" ");
            String answer = "ok";
            switch (f[0]) {
                case "alloc" -> {
                    long pages = Long.parseLong(f[2]);
                    // mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)
                    long a = Pointer.nativeValue(MMAP.invokePointer(new Object[] {null, pages * PAGE, 3, 0x22, -1, 0L}));
                    if (a == -1L) throw new IllegalStateException("mmap failed");
                    regions.put(f[1], new long[] {a, pages});
                    if (f[3].equals("1")) for (long p = 0; p < pages; p++) new Pointer(a + p * PAGE).setByte(0, (byte) (p + 1));
                    answer = "ok " + Long.toHexString(a);
                }
                case "allocdrop" -> { // MAP_DROPPABLE (6.11+): a private anonymous kind userfaultfd refuses
                    long pages = Long.parseLong(f[2]);
                    long a = Pointer.nativeValue(MMAP.invokePointer(new Object[] {null, pages * PAGE, 3, 0x28, -1, 0L}));
                    if (a == -1L) {
                        answer = "ok unsupported";
                    } else {
                        regions.put(f[1], new long[] {a, pages});
                        for (long p = 0; p < pages; p++) new Pointer(a + p * PAGE).setByte(0, (byte) (p + 1));
                        answer = "ok " + Long.toHexString(a);
                    }
                }
                case "allocthp" -> { // PAGES 4 KiB pages, 2 MiB aligned, MADV_HUGEPAGE, every page touched
                    long pages = Long.parseLong(f[2]), len = pages * PAGE, huge = 2L << 20;
                    long raw = Pointer.nativeValue(MMAP.invokePointer(new Object[] {null, len + huge, 3, 0x22, -1, 0L}));
                    if (raw == -1L) throw new IllegalStateException("mmap failed");
                    long a = (raw + huge - 1) & -huge;
                    MADVISE.invokeInt(new Object[] {new Pointer(a), len, 14}); // MADV_HUGEPAGE
                    regions.put(f[1], new long[] {a, pages});
                    for (long p = 0; p < pages; p++) new Pointer(a + p * PAGE).setByte(0, (byte) (p + 1));
                    answer = "ok " + Long.toHexString(a);
                }
                case "remap" -> { // a fresh anonymous page over page PAGE (MAP_FIXED), then written
                    long at = regions.get(f[1])[0] + Long.parseLong(f[2]) * PAGE;
                    long r = Pointer.nativeValue(MMAP.invokePointer(new Object[] {new Pointer(at), PAGE, 3, 0x32, -1, 0L}));
                    if (r != at) throw new IllegalStateException("mmap MAP_FIXED failed");
                    new Pointer(at).setByte(0, (byte) 1);
                }
                case "mprotect" -> { // mprotect NAME PROT [PAGE COUNT] (whole region by default)
                    long[] r = regions.get(f[1]);
                    long at = r[0], len = r[1] * PAGE;
                    if (f.length > 3) {
                        at += Long.parseLong(f[3]) * PAGE;
                        len = Long.parseLong(f[4]) * PAGE;
                    }
                    if (Function.getFunction("c", "mprotect").invokeInt(new Object[] {new Pointer(at), len,
                            Integer.parseInt(f[2])}) != 0) throw new IllegalStateException("mprotect failed");
                }
                case "write" -> {
                    long a = regions.get(f[1])[0];
                    long first = Long.parseLong(f[2]), count = Long.parseLong(f[3]);
                    byte v = (byte) Integer.parseInt(f[4]);
                    for (long p = first; p < first + count; p++) new Pointer(a + p * PAGE).setByte(100, v);
                }
                case "writestride" -> { // writestride NAME FIRST COUNT STRIDE V: COUNT pages, STRIDE pages apart
                    long a = regions.get(f[1])[0];
                    long first = Long.parseLong(f[2]), count = Long.parseLong(f[3]), stride = Long.parseLong(f[4]);
                    byte v = (byte) Integer.parseInt(f[5]);
                    for (long i = 0; i < count; i++) new Pointer(a + (first + i * stride) * PAGE).setByte(100, v);
                }
                case "unmap" -> {
                    long[] r = regions.remove(f[1]);
                    if (MUNMAP.invokeInt(new Object[] {new Pointer(r[0]), r[1] * PAGE}) != 0) throw new IllegalStateException("munmap failed");
                }
                case "dontneed" -> {
                    long a = regions.get(f[1])[0] + Long.parseLong(f[2]) * PAGE;
                    if (MADVISE.invokeInt(new Object[] {new Pointer(a), Long.parseLong(f[3]) * PAGE, 4}) != 0) {
                        throw new IllegalStateException("madvise failed");
                    }
                }
                case "threads" -> {
                    for (int i = 0; i < Integer.parseInt(f[1]); i++) {
                        Thread t = new Thread(() -> {
                            while (true) LockSupport.park();
                        }, "idle-" + i);
                        t.setDaemon(true);
                        t.start();
                    }
                }
                case "shortthreads" -> { // shortthreads N MS: N threads that end after MS ms
                    long ms = Long.parseLong(f[2]);
                    for (int i = 0; i < Integer.parseInt(f[1]); i++) {
                        Thread t = new Thread(() -> LockSupport.parkNanos(ms * 1_000_000L), "short-" + i);
                        t.setDaemon(true);
                        t.start();
                    }
                }
                case "spawner" -> { // spawner MS: one thread starting and joining short threads back to back for MS ms
                    long until = System.nanoTime() + Long.parseLong(f[1]) * 1_000_000L;
                    Thread t = new Thread(() -> {
                        while (System.nanoTime() < until) {
                            Thread c = new Thread(() -> { }, "spawned");
                            c.start();
                            try {
                                c.join();
                            } catch (InterruptedException e) {
                                return;
                            }
                        }
                    }, "spawner");
                    t.setDaemon(true);
                    t.start();
                }
                case "busy" -> { // N threads allocating in a loop: GCs, so safepoints (SIGSEGV polls in compiled code)
                    for (int i = 0; i < Integer.parseInt(f[1]); i++) {
                        Thread t = new Thread(() -> {
                            long sink = 0;
                            while (true) {
                                byte[] b = new byte[4096 + (int) (sink & 1023)];
                                sink += b.length + b[(int) (sink % b.length)];
                            }
                        }, "busy-" + i);
                        t.setDaemon(true);
                        t.start();
                    }
                }
                case "blocksig" -> {
                    int sig = Integer.parseInt(f[1]);
                    long[] tid = new long[1];
                    Thread t = new Thread(() -> {
                        Memory set = new Memory(128);
                        set.clear();
                        set.setLong(0, 1L << (sig - 1));
                        SIGMASK.invokeInt(new Object[] {0, set, null}); // SIG_BLOCK
                        synchronized (tid) {
                            tid[0] = SYSCALL.invokeLong(new Object[] {186L}); // gettid
                            tid.notifyAll();
                        }
                        while (true) LockSupport.park();
                    }, "blocker");
                    t.setDaemon(true);
                    t.start();
                    synchronized (tid) {
                        while (tid[0] == 0) tid.wait();
                    }
                    answer = "ok " + tid[0];
                }
                case "ping" -> {
                }
                case "q" -> {
                    return;
                }
                default -> answer = "error unknown command " + f[0];
            }
            System.out.println(answer);
            System.out.flush();
        }
    }
}
