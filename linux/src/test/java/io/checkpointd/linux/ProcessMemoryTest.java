package io.checkpointd.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.checkpointd.linux.ProcessMemory.RemoteRange;
import io.checkpointd.linux.testing.Children;
import io.checkpointd.linux.testing.MemoryChild;
import java.io.BufferedReader;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class ProcessMemoryTest {
    private final Children children = new Children();

    @AfterEach
    void killChildren() throws InterruptedException {
        children.close();
    }

    @Test
    void readsAKnownPatternFromAChildJvm() throws Exception {
        assumeTrue(Features.ptrace().isAvailable(), () -> "process_vm_readv needs ptrace rights: " + Features.ptrace());
        Process p = children.java(MemoryChild.class);
        BufferedReader out = Children.stdout(p);
        String[] addr = Children.readLineStartingWith(out, "ADDR ").split(" ");
        long base = Long.parseUnsignedLong(addr[1], 16);
        int len = Integer.parseInt(addr[2]);
        int pid = (int) p.pid();

        // 2048 ranges of 512 bytes in reverse order: more than IOV_MAX, so several calls.
        int chunk = 512;
        List<RemoteRange> ranges = new ArrayList<>();
        for (int off = len - chunk; off >= 0; off -= chunk) ranges.add(new RemoteRange(base + off, chunk));
        ByteBuffer dst = ByteBuffer.allocateDirect(len);
        assertThat(ProcessMemory.read(pid, ranges, dst)).isEqualTo(len);
        assertThat(dst.position()).isEqualTo(len);
        for (int k = 0; k < ranges.size(); k++) {
            int remoteOff = len - chunk - k * chunk;
            for (int j = 0; j < chunk; j += 97) {
                assertThat(dst.get(k * chunk + j)).as("byte %d", remoteOff + j).isEqualTo(MemoryChild.pattern(remoteOff + j));
            }
        }

        // One contiguous read, compared byte for byte.
        ByteBuffer all = ByteBuffer.allocateDirect(len);
        ProcessMemory.read(pid, base, all);
        for (int i = 0; i < len; i++) if (all.get(i) != MemoryChild.pattern(i)) throw new AssertionError("mismatch at " + i);
    }

    @Test
    void anUnreadableRangeFailsWithEfaultAfterTheReadableOnes() throws Exception {
        assumeTrue(Features.ptrace().isAvailable(), () -> "process_vm_readv needs ptrace rights: " + Features.ptrace());
        Process p = children.java(MemoryChild.class);
        long base = Long.parseUnsignedLong(Children.readLineStartingWith(Children.stdout(p), "ADDR ").split(" ")[1], 16);
        ByteBuffer dst = ByteBuffer.allocateDirect(8192);
        // The kernel returns a short count for the first range, the retry at page 0 then fails.
        List<RemoteRange> ranges = List.of(new RemoteRange(base, 4096), new RemoteRange(0, 4096));
        assertThatThrownBy(() -> ProcessMemory.read((int) p.pid(), ranges, dst))
                .isInstanceOfSatisfying(SyscallException.class, e -> {
                    assertThat(e.call()).isEqualTo("process_vm_readv");
                    assertThat(e.errno()).isEqualTo(Errno.EFAULT);
                    assertThat(e.getMessage()).contains("at 0x0");
                });
        assertThat(dst.get(1)).isEqualTo(MemoryChild.pattern(1));
    }
}
