package io.checkpointd.linux.ptrace;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.checkpointd.linux.Features;
import io.checkpointd.linux.Syscalls;
import io.checkpointd.linux.freezer.FreezerKind;
import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.proc.Vma;
import io.checkpointd.linux.testing.TrackChildProcess;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class StoppedProcessTest {
    private TrackChildProcess child;

    @BeforeEach
    void start() throws Exception {
        assumeTrue(Features.ptrace().isAvailable(), () -> Features.ptrace().toString());
        assumeTrue(Features.freezerKind() != FreezerKind.NONE, "no cgroup freezer");
        child = new TrackChildProcess();
    }

    @AfterEach
    void stop() throws Exception {
        if (child != null) child.close();
    }

    @Test
    void capturesEveryThreadsRegistersMaskAndQueuedSignalAndDetaches() throws Exception {
        child.cmd("threads 4");
        int blocker = Integer.parseInt(child.cmd("blocksig 40"));
        // SIGRTMIN+6 to the blocking thread: it stays queued in that thread's private queue.
        Syscalls.syscall("tgkill", 234, child.pid(), blocker, 40);

        child.freezer().freeze(Duration.ofSeconds(5));
        try (StoppedProcess sp = StoppedProcess.stop(child.pid(), child.freezer(), Duration.ofSeconds(5))) {
            assertThat(child.freezer().isFrozen()).as("thawed on return").isFalse();
            assertThat(sp.tids()).isEqualTo(ProcFs.threads(child.pid())).contains(blocker);
            assertThat(sp.threadSetStable()).isTrue();
            assertThat(child.threadStates()).as("every thread in tracing stop").matches("t+");

            List<Vma> maps = ProcFs.maps(child.pid());
            List<ThreadState> states = sp.capture();
            assertThat(states).extracting(ThreadState::tid).isEqualTo(sp.tids());
            for (ThreadState s : states) {
                assertThat(maps).as("rip %x of %d in code", s.rip(), s.tid()).anyMatch(v -> v.contains(s.rip()) && v.isExecutable());
                assertThat(maps).as("rsp %x of %d mapped", s.rsp(), s.tid()).anyMatch(v -> v.contains(s.rsp()) && v.isWritable());
                assertThat(s.gpregs()).hasSize(UserRegs.COUNT);
                assertThat(s.xstate().length).as("XSAVE legacy area + header").isGreaterThanOrEqualTo(576);
                assertThat(s.sigmask()).as("SigBlk of %d", s.tid()).isEqualTo(sigBlk(child.pid(), s.tid()));
            }
            ThreadState b = states.stream().filter(s -> s.tid() == blocker).findFirst().orElseThrow();
            assertThat(b.sigmask() & (1L << 39)).as("signal 40 blocked").isNotZero();
            int mxcsr = ByteBuffer.wrap(b.xstate()).order(ByteOrder.LITTLE_ENDIAN).getInt(24);
            assertThat(mxcsr & 0x1f80).isEqualTo(0x1f80);

            assertThat(sp.pendingSignals()).isEqualTo(1);
            List<byte[]> q = sp.queuedSiginfo(blocker);
            assertThat(q).hasSize(1);
            assertThat(ByteBuffer.wrap(q.get(0)).order(ByteOrder.LITTLE_ENDIAN).getInt(0)).as("si_signo").isEqualTo(40);
            assertThat(sp.sharedSiginfo()).isEmpty();
            assertThat(sp.deliveryStopSignals()).isEmpty();
        }
        assertRunningNormally();
    }

    @Test
    void theLegacyFpAreaIsGetFpregsWhetherReadOrTakenFromTheRegset() throws Exception {
        child.cmd("threads 4");
        child.freezer().freeze(Duration.ofSeconds(5));
        try (StoppedProcess sp = StoppedProcess.stop(child.pid(), child.freezer(), Duration.ofSeconds(5))) {
            // enough reads to settle whether this kernel's regset fills x87/SSE init state, then one more
            for (int i = 0; i < ThreadReader.LEGACY_CHECKS && !ThreadReader.regsetFillsLegacy(); i++) sp.capture();
            if (kernelAtLeast(5, 14)) assertThat(ThreadReader.regsetFillsLegacy()).as("5.14+ fill init state").isTrue();
            for (ThreadState s : sp.capture()) {
                byte[] fp = Ptrace.getFpRegs(s.tid());
                assertThat(Arrays.copyOf(s.xstate(), 464)).as("legacy area of %d (regset trusted: %s)", s.tid(),
                        ThreadReader.regsetFillsLegacy()).isEqualTo(Arrays.copyOf(fp, 464));
            }
        }
        assertRunningNormally();
    }

    private static boolean kernelAtLeast(int major, int minor) {
        String[] v = System.getProperty("os.version").split("[.-]");
        int ma = Integer.parseInt(v[0]), mi = Integer.parseInt(v[1]);
        return ma > major || (ma == major && mi >= minor);
    }

    @Test
    void stopsThirtyThreadsFiftyTimesAndAlwaysLeavesTheProcessRunning() throws Exception {
        child.cmd("threads 24");
        int threads = ProcFs.threads(child.pid()).size();
        assertThat(threads).isGreaterThanOrEqualTo(30);
        int rounds = 50;
        long[] stop = new long[rounds], cap = new long[rounds], det = new long[rounds];
        for (int i = 0; i < rounds; i++) {
            child.freezer().freeze(Duration.ofSeconds(5));
            long t0 = System.nanoTime();
            StoppedProcess sp = StoppedProcess.stop(child.pid(), child.freezer(), Duration.ofSeconds(5));
            long t1 = System.nanoTime();
            List<ThreadState> s = sp.capture();
            sp.pendingSignals();
            long t2 = System.nanoTime();
            sp.close();
            sp.close(); // idempotent
            long t3 = System.nanoTime();
            stop[i] = t1 - t0;
            cap[i] = t2 - t1;
            det[i] = t3 - t2;
            assertThat(s).hasSize(sp.tids().size());
            assertThat(child.freezer().isFrozen()).isFalse();
        }
        System.out.printf(Locale.ROOT, "StoppedProcess, %d threads, %d rounds: per thread median stop %.1f us, capture %.1f us,"
                + " detach %.1f us, total %.1f us%n", threads, rounds, med(stop) / threads / 1e3, med(cap) / threads / 1e3,
                med(det) / threads / 1e3, (med(stop) + med(cap) + med(det)) / threads / 1e3);
        assertRunningNormally();
    }

    @Test
    void aFailedStopLeavesTheProcessThawedAndUntraced() throws Exception {
        child.cmd("threads 8");
        for (int i = 0; i < 5; i++) {
            child.freezer().freeze(Duration.ofSeconds(5));
            try {
                StoppedProcess.stop(child.pid(), child.freezer(), Duration.ZERO).close(); // may win the race: fine
            } catch (IOException e) {
                assertThat(e).hasMessageContaining("not in ptrace-stop");
            }
            assertThat(child.freezer().isFrozen()).isFalse();
        }
        assertRunningNormally();
        child.freezer().freeze(Duration.ofSeconds(5));
        child.freezer().thaw();
        assertThatThrownBy(() -> StoppedProcess.stop(Integer.MAX_VALUE - 1, child.freezer(), Duration.ofSeconds(1)))
                .isInstanceOf(IOException.class);
    }

    @Test
    void aProcessKilledWhileStoppedIsCollectedSoItsParentCanReapIt() throws Exception {
        child.cmd("threads 8");
        int pid = child.pid();
        child.freezer().freeze(Duration.ofSeconds(5));
        StoppedProcess sp = StoppedProcess.stop(pid, child.freezer(), Duration.ofSeconds(5));
        Syscalls.syscall("kill", 62, pid, 9, 0); // SIGKILL while every thread is in ptrace-stop
        sp.close();
        // the shell that started it is waiting for it: it can reap it only once we collected the traced threads
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (java.nio.file.Files.exists(java.nio.file.Path.of("/proc/" + pid)) && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(java.nio.file.Path.of("/proc/" + pid)).as("the killed process was reaped by its parent").doesNotExist();
    }

    @Test
    void restartAdjustmentFollowsCriu() {
        long[] r = new long[UserRegs.COUNT];
        r[UserRegs.ORIG_RAX] = 0; // read
        r[UserRegs.RAX] = -ThreadState.ERESTARTSYS;
        r[UserRegs.RIP] = 0x1002;
        ThreadState.adjustForRestart(r);
        assertThat(r[UserRegs.RAX]).isZero();
        assertThat(r[UserRegs.RIP]).isEqualTo(0x1000);

        for (long code : new long[] {ThreadState.ERESTARTNOHAND, ThreadState.ERESTARTNOINTR}) {
            r[UserRegs.ORIG_RAX] = 202; // futex
            r[UserRegs.RAX] = -code;
            r[UserRegs.RIP] = 0x2002;
            ThreadState.adjustForRestart(r);
            assertThat(r[UserRegs.RAX]).isEqualTo(202);
            assertThat(r[UserRegs.RIP]).isEqualTo(0x2000);
        }

        r[UserRegs.ORIG_RAX] = 230; // clock_nanosleep
        r[UserRegs.RAX] = -ThreadState.ERESTART_RESTARTBLOCK;
        r[UserRegs.RIP] = 0x3002;
        ThreadState.adjustForRestart(r);
        assertThat(r[UserRegs.RAX]).isEqualTo(-4);
        assertThat(r[UserRegs.RIP]).isEqualTo(0x3002);

        r[UserRegs.ORIG_RAX] = -1; // not in a syscall: untouched
        r[UserRegs.RAX] = -ThreadState.ERESTARTSYS;
        ThreadState.adjustForRestart(r);
        assertThat(r[UserRegs.RAX]).isEqualTo(-ThreadState.ERESTARTSYS);

        r[UserRegs.ORIG_RAX] = 0; // completed syscall with an ordinary error: untouched
        r[UserRegs.RAX] = -11;
        ThreadState.adjustForRestart(r);
        assertThat(r[UserRegs.RAX]).isEqualTo(-11);
    }

    private void assertRunningNormally() throws Exception {
        assertThat(child.freezer().isFrozen()).isFalse();
        child.cmd("ping");
        assertThat(child.threadStates()).as("no thread left stopped").doesNotContain("t").doesNotContain("T");
        for (int tid : ProcFs.threads(child.pid())) {
            assertThat(ProcFs.statusField(tid, "TracerPid").orElse("0")).as("tracer of %d", tid).isEqualTo("0");
        }
    }

    private static long sigBlk(int pid, int tid) throws IOException {
        String v = ProcFs.status(tid).get("SigBlk");
        return Long.parseUnsignedLong(v, 16);
    }

    private static double med(long[] a) {
        long[] s = a.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
