package io.checkpointd.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.checkpointd.linux.ptrace.Ptrace;
import io.checkpointd.linux.testing.Children;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(30)
class SyscallsTest {
    private final Children children = new Children();

    @AfterEach
    void killChildren() throws InterruptedException {
        children.close();
    }

    @Test
    void pidfdGetfdDuplicatesTheChildsFd(@TempDir Path tmp) throws Exception {
        assumeTrue(Features.ptrace().isAvailable(), () -> "pidfd_getfd needs ptrace rights: " + Features.ptrace());
        Path file = Files.writeString(tmp.resolve("stdin-of-child"), "hello");
        Process p = children.start(new ProcessBuilder("sleep", "30").redirectInput(file.toFile()));
        int pid = (int) p.pid();
        try (FileDescriptor pidfd = Syscalls.pidfdOpen(pid); FileDescriptor dup = Syscalls.pidfdGetfd(pidfd, 0)) {
            Path link = Files.readSymbolicLink(Path.of("/proc/self/fd", Integer.toString(dup.fd())));
            assertThat(link).isEqualTo(file.toRealPath());
            Syscalls.pidfdSendSignal(pidfd, Syscalls.SIGKILL);
            assertThat(p.waitFor(5, TimeUnit.SECONDS)).isTrue();
        }
    }

    @Test
    void waitpidOfAStrangerGivesEchild() throws Exception {
        // Our own children are reaped by ProcessBuilder's reaper thread, so only the error path is checked here.
        assertThatThrownBy(() -> Syscalls.waitpid(Integer.MAX_VALUE, Syscalls.WNOHANG))
                .isInstanceOfSatisfying(SyscallException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ECHILD));
    }

    @Test
    void syscallExceptionCarriesNameErrnoAndStrerror() {
        // INT_MAX is above any pid_max, so no such process can exist.
        assertThatThrownBy(() -> Ptrace.seize(Integer.MAX_VALUE, 0))
                .isInstanceOfSatisfying(SyscallException.class, e -> {
                    assertThat(e.call()).isEqualTo("ptrace(PTRACE_SEIZE)");
                    assertThat(e.errno()).isEqualTo(Errno.ESRCH);
                    assertThat(e.getMessage()).contains("ptrace(PTRACE_SEIZE)", "ESRCH", "No such process");
                });
        assertThatThrownBy(() -> Syscalls.kill(Integer.MAX_VALUE, 0))
                .isInstanceOfSatisfying(SyscallException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ESRCH));
    }

    @Test
    void ioctlNumbersMatchTheKernelHeaders() {
        // Values printed by a C program including <linux/userfaultfd.h> and the probe's definitions.
        assertThat(io.checkpointd.linux.uffd.Userfaultfd.UFFDIO_API).isEqualTo(0xc018aa3fL);
        assertThat(io.checkpointd.linux.uffd.Userfaultfd.UFFDIO_REGISTER).isEqualTo(0xc020aa00L);
        assertThat(io.checkpointd.linux.uffd.Userfaultfd.UFFDIO_UNREGISTER).isEqualTo(0x8010aa01L);
        assertThat(io.checkpointd.linux.uffd.Userfaultfd.UFFDIO_WRITEPROTECT).isEqualTo(0xc018aa06L);
        assertThat(io.checkpointd.linux.uffd.PagemapScan.PAGEMAP_SCAN).isEqualTo(0xc0606610L);
    }
}
