package io.checkpointd.linux.ptrace;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.checkpointd.linux.Features;
import io.checkpointd.linux.Syscalls;
import io.checkpointd.linux.WaitStatus;
import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.proc.Vma;
import io.checkpointd.linux.testing.Children;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class PtraceTest {
    private final Children children = new Children();

    @BeforeEach
    void needPtrace() {
        assumeTrue(Features.ptrace().isAvailable(), () -> Features.ptrace().toString());
    }

    @AfterEach
    void killChildren() throws InterruptedException {
        children.close();
    }

    @Test
    void seizeInterruptReadRegistersAndDetach() throws Exception {
        Children.Grandchild g = children.startGrandchild(List.of("sleep", "30"));
        int pid = g.pid();
        awaitState(pid, 'S');
        Ptrace.seize(pid, 0);
        Ptrace.interrupt(pid);
        WaitStatus st = Ptrace.waitStop(pid);
        assertThat(st.stopped()).as("%s", st).isTrue();
        assertThat(st.ptraceEvent()).isEqualTo(Ptrace.PTRACE_EVENT_STOP);

        UserRegs regs = Ptrace.getRegs(pid);
        List<Vma> maps = ProcFs.maps(pid);
        assertThat(maps.stream().anyMatch(v -> v.contains(regs.rip()) && v.isExecutable())).as("rip %x in code", regs.rip()).isTrue();
        assertThat(maps.stream().anyMatch(v -> v.contains(regs.rsp()) && v.path().equals("[stack]"))).as("rsp %x on stack", regs.rsp()).isTrue();
        assertThat(regs.origRax()).as("stopped inside clock_nanosleep").isEqualTo(230);

        byte[] fp = Ptrace.getFpRegs(pid);
        assertThat(fp).hasSize(Ptrace.FPREGS_SIZE);
        int mxcsr = ByteBuffer.wrap(fp).order(ByteOrder.LITTLE_ENDIAN).getInt(24);
        assertThat(mxcsr & 0x1f80).as("mxcsr exception masks, default 0x1f80").isEqualTo(0x1f80);

        Ptrace.setRegs(pid, regs); // a no-op round trip must be accepted
        Ptrace.detach(pid, 0);
        awaitState(pid, 'S');
    }

    @Test
    void injectedSyscallRunsInTheTargetAndItsSleepIsRestarted() throws Exception {
        Children.Grandchild g = children.startGrandchild(List.of("sleep", "0.6"));
        int pid = g.pid();
        awaitState(pid, 'S');
        long t0 = System.nanoTime();
        UserRegs before;
        try (Injector inj = Injector.attach(pid)) {
            before = inj.savedRegs();
            assertThat(inj.syscall(Syscalls.SYS_getpid)).isEqualTo(pid);
            assertThat(inj.syscall(Syscalls.SYS_close, 9999)).isEqualTo(-9L); // -EBADF
            assertThat(Ptrace.getRegs(pid)).isEqualTo(before);
        }
        // The interrupted clock_nanosleep must resume, not fail: sleep exits 0 after its full time.
        assertThat(g.shell().waitFor(5, TimeUnit.SECONDS)).isTrue();
        assertThat(g.shell().exitValue()).as("exit status of sleep").isZero();
        assertThat(System.nanoTime() - t0).isGreaterThan(TimeUnit.MILLISECONDS.toNanos(300));
    }

    /** Waits until the child has exec'd {@code sleep} (not still the spawn helper) and is in {@code state}. */
    static void awaitState(int pid, char state) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (ProcFs.state(pid) != state || !ProcFs.statusField(pid, "Name").orElse("").equals("sleep")) {
            if (System.nanoTime() > deadline) throw new AssertionError("pid " + pid + " not in state " + state + ": " + ProcFs.statusField(pid, "State"));
            Thread.sleep(5);
        }
    }
}
