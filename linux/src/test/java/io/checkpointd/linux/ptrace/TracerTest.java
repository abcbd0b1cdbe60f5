package io.checkpointd.linux.ptrace;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.checkpointd.linux.Features;
import io.checkpointd.linux.Syscalls;
import io.checkpointd.linux.freezer.FreezerKind;
import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.testing.TrackChildProcess;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The persistent tracer against a real JVM (a grandchild of this one, so the ptrace reports reach us). */
@Timeout(90)
class TracerTest {
    private static final Duration STOP = Duration.ofSeconds(5);
    private TrackChildProcess child;
    private Tracer tracer;

    @BeforeEach
    void start() throws Exception {
        assumeTrue(Features.ptrace().isAvailable(), () -> Features.ptrace().toString());
        assumeTrue(Features.freezerKind() != FreezerKind.NONE, "no cgroup freezer");
        child = new TrackChildProcess();
        tracer = Tracer.start(child.pid());
        attach();
    }

    @AfterEach
    void stop() throws Exception {
        if (tracer != null) tracer.close();
        if (child != null) child.close();
    }

    private void attach() throws Exception {
        child.freezer().freeze(STOP);
        try {
            tracer.call(() -> {
                tracer.attach();
                return null;
            });
        } finally {
            child.freezer().thaw();
        }
    }

    /** One epoch's stop on the tracer thread: {@code body} sees every thread stopped. */
    private <T> T stopped(StopBody<T> body) throws Exception {
        return tracer.call(() -> {
            try (Tracer.Stop s = tracer.stopAll(STOP)) {
                return body.run(s);
            } catch (IOException | RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IOException(e);
            }
        });
    }

    interface StopBody<T> {
        T run(Tracer.Stop s) throws Exception;
    }

    @Test
    void aStopThatTimesOutSaysWhatTheThreadsWaitOn() throws Exception {
        child.freezer().freeze(STOP); // frozen threads take no ptrace-stop until thawed
        try {
            assertThatThrownBy(() -> tracer.call(() -> {
                try (Tracer.Stop s = tracer.stopAll(Duration.ofMillis(200))) {
                    return null;
                }
            })).isInstanceOf(IOException.class).hasMessageContaining("not in ptrace-stop within 200 ms")
                    .hasMessageMatching("(?s).*\\(tid " + child.pid() + " \\([^)]*\\): state [A-Za-z], wchan [^;)]+.*");
        } finally {
            child.freezer().thaw();
        }
        child.cmd("ping");
        stopped(s -> null); // the next stop works
    }

    @Test
    void stopsEveryThreadReadsItsStateAndLetsItRunOnStillTraced() throws Exception {
        child.cmd("threads 4");
        int blocker = Integer.parseInt(child.cmd("blocksig 40"));
        Syscalls.syscall("tgkill", 234, child.pid(), blocker, 40); // stays queued: blocked
        stopped(s -> {
            assertThat(s.tids()).isEqualTo(ProcFs.threads(child.pid())).contains(blocker);
            assertThat(s.threadSetStable()).isTrue();
            assertThat(child.threadStates()).as("every thread in tracing stop").matches("t+");
            List<ThreadState> states = s.capture();
            assertThat(states).extracting(ThreadState::tid).isEqualTo(s.tids());
            ThreadState b = states.stream().filter(x -> x.tid() == blocker).findFirst().orElseThrow();
            assertThat(b.sigmask() & (1L << 39)).as("signal 40 blocked").isNotZero();
            assertThat(s.pendingSignals()).isEqualTo(1);
            assertThat(ByteBuffer.wrap(s.queuedSiginfo(blocker).get(0)).order(ByteOrder.LITTLE_ENDIAN).getInt(0)).isEqualTo(40);
            return null;
        });
        child.cmd("ping");
        assertThat(child.threadStates()).as("running again").doesNotContain("t");
        // TracerPid is the tracing thread's id: one thread of this JVM traces them all
        assertThat(tracerPids()).as("still traced, by one thread").hasSize(1).doesNotContain("0");
    }

    @Test
    void threadsSeenAfterTheBaseMarkAreBornAndTheirAttributesAreRead() throws Exception {
        tracer.call(() -> {
            tracer.markBase();
            return null;
        });
        List<Integer> base = stopped(Tracer.Stop::tids);
        child.cmd("threads 3");
        int pid = child.pid();
        stopped(s -> {
            assertThat(s.bornTids()).hasSize(3).doesNotContainAnyElementsOf(base);
            for (ThreadState t : s.captureWithAttributes()) {
                assertThat(t.born()).as("tid %d born", t.tid()).isEqualTo(!base.contains(t.tid()));
                ThreadAttributes a = t.attributes();
                Path task = Path.of("/proc/" + pid + "/task/" + t.tid());
                assertThat(a.comm()).isEqualTo(Files.readString(task.resolve("comm")).trim());
                String[] stat = Files.readString(task.resolve("stat")).replaceAll(".*\\) ", "").split(" ");
                // stat fields 19 (nice), 40 (rt_priority), 41 (policy), counted from field 3 here
                assertThat(a.nice()).isEqualTo(Integer.parseInt(stat[16]));
                assertThat(a.schedPolicy()).isEqualTo(Integer.parseInt(stat[38]));
                assertThat(a.schedPriority()).isEqualTo(-1);
                assertThat(a.tls()).hasSize(3).extracting(ThreadAttributes.TlsEntry::entryNumber).containsExactly(12, 13, 14);
                // glibc's threads: a robust list head (&pthread->robust_head, 24 bytes) and an rseq area, both in the
                // thread's TCB, just above fs_base
                long fs = t.gpregs()[UserRegs.FS_BASE];
                assertThat(a.robustLen()).isEqualTo(24);
                assertThat(a.robustHead() - fs).isBetween(0L, 4096L);
                assertThat(a.rseq()).isNotNull();
                assertThat(a.rseq().abiPointer() - fs).isBetween(0L, 4096L);
            }
            return null;
        });
        // a thread whose registers did not change keeps its attributes; a renamed one that ran is read again
        List<ThreadState> again = stopped(Tracer.Stop::captureWithAttributes);
        assertThat(again).allSatisfy(t -> assertThat(t.born()).isEqualTo(!base.contains(t.tid())));
    }

    @Test
    void everyStopCoversEveryListedThreadWhileThreadsComeAndGo() throws Exception {
        int mismatches = 0;
        for (int i = 0; i < 40; i++) {
            child.cmd("shortthreads 3 " + (5 + i % 20));
            mismatches += stopped(s -> {
                List<Integer> listed = ProcFs.threads(s.pid());
                List<ThreadState> states = s.captureWithAttributes();
                return listed.equals(s.tids()) && s.threadSetStable() && states.size() == listed.size() ? 0 : 1;
            });
        }
        assertThat(mismatches).as("stops whose stopped threads differed from /proc/PID/task").isZero();
        assertThat(tracer.counters().get("clones")).isGreaterThanOrEqualTo(120L);
    }

    @Test
    void stopsAThreadThatClonesAllTheTime() throws Exception {
        // a clone's event-stop clears an interrupt still pending: the cloning thread must be interrupted again, or it
        // runs on and the stop times out (H2's acceptor starts a thread per connection)
        child.cmd("spawner 4000");
        long end = System.nanoTime() + Duration.ofSeconds(3).toNanos();
        int stops = 0;
        while (System.nanoTime() < end) {
            tracer.call(() -> {
                try (Tracer.Stop s = tracer.stopAll(Duration.ofSeconds(1))) {
                    return null;
                }
            });
            stops++;
        }
        // floors, not rates (a slow host started 420 threads in the 3 s): enough that stops met clones in flight
        assertThat(stops).isGreaterThan(20);
        assertThat(tracer.counters().get("clones")).as("threads started meanwhile").isGreaterThan(100L);
    }

    @Test
    void followsThreadsThatStartAndEnd() throws Exception {
        int before = stopped(s -> s.tids().size());
        child.cmd("threads 3");
        child.cmd("shortthreads 4 300");
        List<Integer> during = stopped(s -> {
            assertThat(s.threadSetStable()).isTrue();
            assertThat(s.capture()).hasSize(s.tids().size());
            return s.tids();
        });
        assertThat(during).hasSize(before + 7).isEqualTo(ProcFs.threads(child.pid()));
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        List<Integer> after;
        do {
            Thread.sleep(100);
            after = stopped(Tracer.Stop::tids);
        } while (after.size() != before + 3 && System.nanoTime() < deadline);
        assertThat(after).hasSize(before + 3).isEqualTo(ProcFs.threads(child.pid()));
        assertThat(tracer.counters()).containsEntry("exits", 4L);
        assertThat(tracer.counters().get("clones")).isGreaterThanOrEqualTo(7L);
        child.cmd("ping");
    }

    @Test
    void relaysTheJvmsSignalsWhileStoppingItOften() throws Exception {
        child.cmd("busy 2"); // allocating threads: GCs, safepoint polls fault with SIGSEGV in compiled code
        long[] pause = new long[200];
        for (int i = 0; i < pause.length; i++) {
            long t0 = System.nanoTime();
            stopped(s -> s.capture().size());
            pause[i] = System.nanoTime() - t0;
            Thread.sleep(5);
        }
        child.cmd("ping");
        assertThat(tracer.counters().get("relayed-signals")).as("SIGSEGVs of safepoint polls relayed").isPositive();
        long[] sorted = pause.clone();
        Arrays.sort(sorted);
        System.out.printf(Locale.ROOT, "Tracer: %d threads, stop+capture+resume p50 %.3f ms, %s%n",
                ProcFs.threads(child.pid()).size(), sorted[sorted.length / 2] / 1e6, tracer.counters());
    }

    @Test
    void jobControlStopsTheProcessAsWithoutATracer() throws Exception {
        Syscalls.kill(child.pid(), Syscalls.SIGSTOP);
        awaitThreadStates(st -> st.matches("t+"), "every thread held in its group-stop");
        stopped(s -> s.capture().size()); // an epoch while stopped by job control
        Thread.sleep(200);
        assertThat(child.threadStates()).as("still stopped after the epoch").matches("t+");
        Syscalls.kill(child.pid(), Syscalls.SIGCONT);
        child.cmd("ping");
        assertThat(tracer.counters().get("group-stops")).isPositive();
    }

    @Test
    void detachesForACriuDumpAndAttachesAgain() throws Exception {
        // the engine's order: stop, freeze (threads in ptrace-stop count as frozen), detach (they enter the freezer)
        tracer.call(() -> {
            Tracer.Stop s = tracer.stopAll(STOP);
            child.freezer().freeze(STOP);
            s.detach();
            return null;
        });
        assertThat(child.freezer().isFrozen()).isTrue();
        assertThat(tracer.attached()).isFalse();
        assertThat(tracerPids()).as("untraced while frozen").containsOnly("0");
        child.freezer().thaw();
        child.cmd("ping");
        attach();
        List<Integer> tids = stopped(Tracer.Stop::tids);
        assertThat(tids).isEqualTo(ProcFs.threads(child.pid()));
        child.cmd("ping");
    }

    @Test
    void closingDetachesEveryThread() throws Exception {
        child.cmd("threads 6");
        tracer.close();
        assertThat(tracerPids()).containsOnly("0");
        child.cmd("ping");
        assertThatThrownBy(() -> tracer.call(() -> null)).isInstanceOf(IOException.class);
    }

    @Test
    void aProcessKilledWhileTracedIsCollectedSoItsParentCanReapIt() throws Exception {
        child.cmd("threads 8");
        int pid = child.pid();
        Syscalls.kill(pid, Syscalls.SIGKILL);
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (Files.exists(Path.of("/proc/" + pid)) && System.nanoTime() < deadline) Thread.sleep(20);
        assertThat(Path.of("/proc/" + pid)).as("reaped by its parent").doesNotExist();
        assertThatThrownBy(() -> stopped(s -> null)).isInstanceOf(IOException.class);
    }

    @Test
    void ptraceRequestsOffTheTracerThreadAreRefused() {
        assertThatThrownBy(() -> tracer.stopAll(STOP)).isInstanceOf(IllegalStateException.class);
    }

    private List<String> tracerPids() throws IOException {
        return ProcFs.threads(child.pid()).stream().map(t -> {
            try {
                return ProcFs.statusField(t, "TracerPid").orElse("0");
            } catch (IOException e) {
                return "gone";
            }
        }).distinct().toList();
    }

    private void awaitThreadStates(java.util.function.Predicate<String> ok, String what) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        String st;
        while (!ok.test(st = child.threadStates()) && System.nanoTime() < deadline) Thread.sleep(20);
        assertThat(ok.test(st)).as(what + ": " + st).isTrue();
    }
}
