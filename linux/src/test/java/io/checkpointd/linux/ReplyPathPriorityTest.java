package io.checkpointd.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The reply path's threads: raised to SCHED_FIFO at the configured priority, lowered back to SCHED_OTHER. */
class ReplyPathPriorityTest {
    private static final int SCHED_OTHER = 0, SCHED_FIFO = 1;

    @Test
    void raiseMakesTheCallingThreadFifoAtItsPriorityAndLowerUndoesIt() throws Exception {
        assumeTrue(Syscalls.geteuid() == 0, "SCHED_FIFO needs CAP_SYS_NICE");
        AtomicReference<int[]> seen = new AtomicReference<>();
        AtomicReference<Boolean> raised = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try {
                int[] before = policyAndPriority();
                raised.set(ReplyPathPriority.raise());
                int[] during = policyAndPriority();
                ReplyPathPriority.lower();
                int[] after = policyAndPriority();
                seen.set(new int[] {before[0], during[0], during[1], after[0]});
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        t.start();
        t.join(10_000);
        assertThat(raised.get()).isTrue();
        assertThat(seen.get()).containsExactly(SCHED_OTHER, SCHED_FIFO, ReplyPathPriority.DEFAULT, SCHED_OTHER);
    }

    /** The calling thread's scheduling policy and real-time priority, from /proc/thread-self/stat (fields 41 and 40). */
    private static int[] policyAndPriority() throws Exception {
        String stat = Files.readString(Path.of("/proc/thread-self/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" "); // f[0] is field 3
        return new int[] {Integer.parseInt(f[41 - 3]), Integer.parseInt(f[40 - 3])};
    }
}
