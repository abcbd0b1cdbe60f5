package io.checkpointd.linux;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class WaitStatusTest {
    @Test
    void decodesTheWaitMacros() {
        WaitStatus exited = new WaitStatus(1, 3 << 8);
        assertThat(exited.exited()).isTrue();
        assertThat(exited.exitCode()).isEqualTo(3);
        assertThat(exited.signaled()).isFalse();

        WaitStatus killed = new WaitStatus(1, 9);
        assertThat(killed.signaled()).isTrue();
        assertThat(killed.termSig()).isEqualTo(9);
        assertThat(killed.exited()).isFalse();

        // PTRACE_INTERRUPT stop: (PTRACE_EVENT_STOP << 16) | (SIGTRAP << 8) | 0x7f
        WaitStatus interrupt = new WaitStatus(1, (128 << 16) | (5 << 8) | 0x7f);
        assertThat(interrupt.stopped()).isTrue();
        assertThat(interrupt.stopSig()).isEqualTo(5);
        assertThat(interrupt.ptraceEvent()).isEqualTo(128);
        assertThat(interrupt.signaled()).isFalse();
        assertThat(interrupt.exited()).isFalse();
    }
}
