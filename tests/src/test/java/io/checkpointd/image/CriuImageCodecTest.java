package io.checkpointd.image;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import io.checkpointd.demo.KvClient;
import io.checkpointd.demo.KvServerProcess;
import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.WaitStatus;
import io.checkpointd.linux.criu.Criu;
import io.checkpointd.linux.criu.DumpOptions;
import io.checkpointd.linux.criu.Reaper;
import io.checkpointd.linux.criu.RestoreOptions;
import io.checkpointd.linux.criu.TcpMode;
import io.checkpointd.linux.freezer.Freezer;
import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.ptrace.Ptrace;
import io.checkpointd.protocol.image.CoreImage;
import io.checkpointd.protocol.image.MmImage;
import io.checkpointd.protocol.image.Pagemap;
import io.checkpointd.protocol.image.XsaveLayout;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The pure-Java CRIU image codec ({@code io.checkpointd.protocol.image}) against real CRIU 4.2 dumps: every core,
 * mm and pagemap image round-trips byte for byte, and — the oracle — registers, FPU/XSAVE state and sigmask
 * captured with ptrace from a process that stayed frozen since CRIU dumped it, patched into the core images by
 * {@link CoreImage#withThreadState}, give exactly CRIU's bytes; CRIU restores that image.
 *
 * <p>Targets are {@link DetachedTargets}: not children of this JVM's process reaper, killed and reaped by pid.
 */
class CriuImageCodecTest extends DetachedTargetTest {
    private static final String[] REG_NAMES = {"r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax",
            "cx", "dx", "si", "di", "orig_ax", "ip", "cs", "flags", "sp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs"};
    private static final int AX = 10, ORIG_AX = 15, IP = 16;
    // kernel-internal restart codes (include/linux/errno.h)
    private static final long ERESTARTSYS = -512, ERESTARTNOINTR = -513, ERESTARTNOHAND = -514,
            ERESTART_RESTARTBLOCK = -516, EINTR = -4;

    @Test
    void everyImageOfAPlainProcessRoundTrips() throws Exception {
        int pid = targets.start(List.of("sleep", "100000"));
        Path img = Files.createDirectory(tmp.resolve("img"));
        Criu.locate().dump(DumpOptions.builder(pid, img).leaveRunning(true).logFile("dump.log").build());
        assertRoundTrips(img);
    }

    /**
     * A KvServer JVM frozen in its own cgroup is dumped by CRIU (which leaves it frozen), then — never having run
     * in between — stopped with ptrace (CRIU's recipe: seize + interrupt while frozen, thaw, wait for the stops).
     * Its threads' registers, XSAVE buffers and sigmasks, written into the core images, must give CRIU's bytes, and
     * the image with every core rebuilt from them must restore to a working server holding the data.
     */
    @Test
    void ptraceCaptureOfAFrozenJvmReproducesCriusCoresAndRestores() throws Exception {
        Path portFile = tmp.resolve("port");
        List<String> cmd = KvServerProcess.command(KvServerProcess.currentJava(), KvServerProcess.RECOMMENDED_JVM_ARGS,
                System.getProperty("java.class.path"), "127.0.0.1", 0, portFile);
        int pid = targets.start(cmd);
        int port = awaitPort(portFile, pid);
        InetSocketAddress addr = new InetSocketAddress("127.0.0.1", port);
        try (KvClient c = KvClient.connect(addr)) {
            for (int i = 0; i < 50; i++) assertThat(c.put("k" + i, "v" + i)).isTrue();
        }

        Criu criu = Criu.locate();
        Path img = Files.createDirectory(tmp.resolve("img"));
        Map<Integer, Captured> captured;
        try (Freezer freezer = Freezer.forProcess(pid)) {
            freezer.freeze(Duration.ofSeconds(10));
            criu.dump(DumpOptions.builder(pid, img).leaveRunning(true).tcpMode(TcpMode.CLOSE).skipInFlight(true)
                    .freezeCgroup(freezer.cgroup().toString()).fileLocks(true).logFile("dump.log").build());
            assertThat(freezer.isFrozen()).as("CRIU leaves a cgroup it found frozen frozen").isTrue();
            captured = stopAndCapture(pid, freezer);
        }
        assertRoundTrips(img);

        assertThat(captured.keySet()).as("threads").containsExactlyInAnyOrderElementsOf(Criu.imagePids(img));
        Path patched = Files.createDirectory(tmp.resolve("patched"));
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(img)) {
            for (Path p : ds) Files.copy(p, patched.resolve(p.getFileName()));
        }
        int compared = 0;
        for (Map.Entry<Integer, Captured> e : captured.entrySet()) {
            int tid = e.getKey();
            Captured t = e.getValue();
            byte[] criusBytes = Files.readAllBytes(img.resolve("core-" + tid + ".img"));
            CoreImage crius = CoreImage.parse(criusBytes);
            XsaveLayout layout = t.layout();
            // wipe every field withThreadState maps first, so whatever matches below came from the capture
            byte[] zeros = new byte[layout.size()];
            layout.writeXcr0(zeros);
            CoreImage wiped = crius.withThreadState(new long[27], zeros, layout, 0);
            assertThat(wiped.encode()).as("tid %d wiped", tid).isNotEqualTo(criusBytes);
            CoreImage ours = wiped.withThreadState(t.gpregs(), t.xstate(), layout, t.sigmask());

            long[] want = crius.gpregs(), got = ours.gpregs();
            for (int r = 0; r < 27; r++) {
                assertThat(got[r]).as("tid %d %s: ptrace %x, CRIU %x", tid, REG_NAMES[r], got[r], want[r]).isEqualTo(want[r]);
            }
            assertThat(ours.blockedSignals()).as("tid %d sigmask", tid).isEqualTo(crius.blockedSignals());
            assertThat(ours.xstate(layout)).as("tid %d FPU/XSAVE state", tid).isEqualTo(crius.xstate(layout));
            assertThat(ours.encode()).as("tid %d core image bytes", tid).isEqualTo(criusBytes);
            Files.write(patched.resolve("core-" + tid + ".img"), ours.encode());
            compared++;
        }
        assertThat(compared).isGreaterThan(5);
        long restarted = captured.values().stream().filter(Captured::restartAdjusted).count();
        long fpregsOverlay = captured.values().stream().filter(Captured::fpregsOverlay).count();
        System.out.printf("image oracle: %d threads' cores rebuilt from ptrace equal CRIU's (%d syscall-restart adjusted,"
                + " %d with the GETFPREGS overlay), layout %s%n", compared, restarted, fpregsOverlay,
                captured.values().iterator().next().layout());

        // the original must be gone before its pids can be restored
        assertThat(Reaper.killAndReap(pid, Duration.ofSeconds(10))).isTrue();
        int restored = criu.restore(RestoreOptions.builder(patched).tcpMode(TcpMode.CLOSE).logFile("restore.log").build());
        targets.replaced(pid, restored);
        assertThat(restored).isEqualTo(pid);
        try (KvClient c = connectRetrying(addr)) {
            for (int i = 0; i < 50; i++) assertThat(c.get("k" + i)).as("k" + i).isEqualTo(Optional.of("v" + i));
            assertThat(c.put("after", "restore")).isTrue();
            assertThat(c.get("after")).isEqualTo(Optional.of("restore"));
        }
    }

    /** Every core, mm and pagemap image of a dump round-trips byte for byte through the codec. */
    private static void assertRoundTrips(Path dir) throws IOException {
        int cores = 0, mms = 0, pagemaps = 0;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.img")) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                byte[] bytes = Files.readAllBytes(p);
                if (n.startsWith("core-")) {
                    CoreImage c = CoreImage.parse(bytes);
                    assertThat(c.encode()).as(n).isEqualTo(bytes);
                    // the inverse mapping, through a layout the core's components fit (the machine's is checked above)
                    XsaveLayout layout = XsaveLayout.of(c.savedXfeatures(), 8192, standardOffsets());
                    assertThat(c.withThreadState(c.gpregs(), c.xstate(layout), layout, c.blockedSignals()).encode()).as(n)
                            .isEqualTo(bytes);
                    cores++;
                } else if (n.startsWith("mm-")) {
                    MmImage m = MmImage.parse(bytes);
                    assertThat(m.encode()).as(n).isEqualTo(bytes);
                    assertThat(m.withVmas(m.vmas()).encode()).as(n).isEqualTo(bytes);
                    mms++;
                } else if (Pagemap.isPagemapName(n)) {
                    Pagemap pm = Pagemap.parse(bytes);
                    assertThat(Pagemap.of(pm.pagesId(), pm.runs()).encode()).as(n).isEqualTo(bytes);
                    assertThat(Files.size(dir.resolve(pm.pagesFileName()))).as(n).isEqualTo(pm.presentPages() * Pagemap.PAGE_SIZE);
                    pagemaps++;
                }
            }
        }
        assertThat(cores).isPositive();
        assertThat(mms).isPositive();
        assertThat(pagemaps).isPositive();
    }

    /** Intel's offsets for every component CRIU saves: any non-overlapping layout inverts the mapping. */
    private static Map<Integer, Integer> standardOffsets() {
        return Map.of(2, 576, 3, 960, 4, 1024, 5, 1088, 6, 1152, 7, 1664, 9, 2688);
    }

    // ---------------------------------------------------------------- ptrace capture (test-only JNA)

    /** What the incremental engine captures per thread. */
    record Captured(long[] gpregs, byte[] xstate, XsaveLayout layout, long sigmask, boolean restartAdjusted,
            boolean fpregsOverlay) {
    }

    /** libc's variadic ptrace, for the two requests the linux module does not wrap (yet). */
    interface LibC extends Library {
        LibC INSTANCE = Native.load("c", LibC.class);

        long ptrace(long request, int pid, long addr, long data);
    }

    private static final int PTRACE_GETREGSET = 0x4204, PTRACE_GETSIGMASK = 0x420a, NT_X86_XSTATE = 0x202;

    /**
     * Seizes and interrupts every thread while frozen, thaws, waits for each ptrace-stop, captures, detaches. The
     * registers get compel's syscall-restart adjustment; the XSAVE buffer gets compel's PTRACE_GETFPREGS overlay
     * when x87/SSE are in their init state.
     */
    private static Map<Integer, Captured> stopAndCapture(int pid, Freezer freezer) throws IOException {
        List<Integer> tids = ProcFs.threads(pid);
        List<Integer> seized = new ArrayList<>();
        Map<Integer, Captured> out = new LinkedHashMap<>();
        boolean thawed = false;
        try {
            for (int tid : tids) {
                Ptrace.seize(tid, 0);
                seized.add(tid);
                Ptrace.interrupt(tid);
            }
            freezer.thaw();
            thawed = true;
            for (int tid : seized) {
                WaitStatus st = Ptrace.waitStop(tid, Duration.ofSeconds(10));
                assertThat(st.stopped()).as("tid %d: %s", tid, st).isTrue();
                assertThat(st.ptraceEvent()).as("tid %d stops for our interrupt, not a signal: %s", tid, st)
                        .isEqualTo(Ptrace.PTRACE_EVENT_STOP);
            }
            for (int tid : seized) out.put(tid, capture(tid));
        } finally {
            if (!thawed) freezer.thaw();
            for (int tid : seized) {
                try {
                    Ptrace.detach(tid, 0);
                } catch (SyscallException e) {
                    // already gone or never stopped: the process is killed after the test anyway
                }
            }
        }
        return out;
    }

    private static Captured capture(int tid) throws SyscallException {
        long[] r = Ptrace.getRegs(tid).toArray();
        long ax0 = r[AX];
        // compel_get_task_regs(): a syscall interrupted by our stop is restarted on restore
        if (r[ORIG_AX] >= 0) {
            if (r[AX] == ERESTARTNOHAND || r[AX] == ERESTARTSYS || r[AX] == ERESTARTNOINTR) {
                r[AX] = r[ORIG_AX];
                r[IP] -= 2;
            } else if (r[AX] == ERESTART_RESTARTBLOCK) {
                r[AX] = EINTR;
            }
        }
        byte[] xstate;
        try (Memory buf = new Memory(16384); Memory iov = new Memory(16)) {
            buf.clear();
            iov.setLong(0, Pointer.nativeValue(buf));
            iov.setLong(8, buf.size());
            check(LibC.INSTANCE.ptrace(PTRACE_GETREGSET, tid, NT_X86_XSTATE, Pointer.nativeValue(iov)), "PTRACE_GETREGSET", tid);
            xstate = buf.getByteArray(0, (int) iov.getLong(8));
        }
        // the regset's XCR0 word and length give the layout; GETFPREGS below would overwrite that word
        XsaveLayout layout = XsaveLayout.fromRegset(xstate);
        long xstateBv = ByteBuffer.wrap(xstate).order(ByteOrder.LITTLE_ENDIAN).getLong(XsaveLayout.XSAVE_HEADER_OFFSET);
        if ((xstateBv & 3) != 3) {
            // compel's get_task_xsave(): x87/SSE in init state are not filled in by the regset; GETFPREGS is
            System.arraycopy(Ptrace.getFpRegs(tid), 0, xstate, 0, Ptrace.FPREGS_SIZE);
        }
        long sigmask;
        try (Memory m = new Memory(8)) {
            check(LibC.INSTANCE.ptrace(PTRACE_GETSIGMASK, tid, 8, Pointer.nativeValue(m)), "PTRACE_GETSIGMASK", tid);
            sigmask = m.getLong(0);
        }
        return new Captured(r, xstate, layout, sigmask, r[AX] != ax0, (xstateBv & 3) != 3);
    }

    private static void check(long r, String what, int tid) throws SyscallException {
        if (r < 0) throw new SyscallException("ptrace(" + what + ")", Native.getLastError(), "tid " + tid);
    }

    // ---------------------------------------------------------------- processes

    private static int awaitPort(Path portFile, int pid) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() - deadline < 0) {
            if (Files.exists(portFile)) return Integer.parseInt(Files.readString(portFile).strip());
            assertThat(ProcFs.exists(pid)).as("KvServer %d alive", pid).isTrue();
            Thread.sleep(20);
        }
        throw new IllegalStateException("KvServer did not publish its port");
    }

    private static KvClient connectRetrying(InetSocketAddress addr) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (true) {
            try {
                KvClient c = KvClient.connect(addr);
                c.ping();
                return c;
            } catch (IOException e) {
                if (System.nanoTime() - deadline > 0) throw e;
                Thread.sleep(50);
            }
        }
    }
}
