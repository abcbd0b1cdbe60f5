package io.checkpointd.primary.engine.fds;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Parsing {@code /proc/PID/fdinfo} as kernel 6.x prints it, and which fd changes the engine can never express. */
class FdInfoTest {
    @Test
    void anEpollFdsFlagsAndTargets() throws IOException {
        FdInfo i = FdInfo.parse("""
                pos:	0
                flags:	02000002
                mnt_id:	17
                ino:	1038
                tfd:        7 events:       19 data:     7f0c00000007  pos:0 ino:40e sdev:10
                tfd:       12 events:       19 data:     7f0d0000000c  pos:0 ino:33d65 sdev:9
                """);
        assertThat(i.fileFlags()).isEqualTo(02);
        assertThat(i.fdFlags()).isEqualTo(FdInfo.FD_CLOEXEC);
        assertThat(i.targets()).containsExactly(new FdInfo.Target(7, 0x19, 0x7f0c00000007L, 0, 0x40e, 0x10),
                new FdInfo.Target(12, 0x19, 0x7f0d0000000cL, 0, 0x33d65, 9));
        assertThat(i.eventfdCount()).isEqualTo(-1);
    }

    @Test
    void anEventfdsCountAndANonBlockingSocketsFlags() throws IOException {
        FdInfo e = FdInfo.parse("pos:\t0\nflags:\t04002\nmnt_id:\t17\nino:\t1038\neventfd-count:               2a\neventfd-id: 17\n");
        assertThat(e.eventfdCount()).isEqualTo(42);
        assertThat(e.fileFlags()).isEqualTo(04002);
        assertThat(e.fdFlags()).isZero();
        assertThat(e.targets()).isEmpty();
    }

    @Test
    void garbageIsRefused() {
        assertThatThrownBy(() -> FdInfo.parse("pos: 0\n")).isInstanceOf(IOException.class);
        assertThatThrownBy(() -> FdInfo.parse("flags: 02\ntfd: 7 events: zz\n")).isInstanceOf(RuntimeException.class);
    }

    @Test
    void onlySocketsPipesEpollAndEventfdsCanBeCapturedClosedFdsAlways() {
        Map<Integer, String> base = Map.of(0, "/dev/null", 5, "socket:[1]", 6, "anon_inode:[eventpoll]");
        assertThat(FdReader.hasInexpressible(base, Map.of(0, "/dev/null"))).as("closed").isFalse();
        assertThat(FdReader.hasInexpressible(base, Map.of(0, "/dev/null", 5, "socket:[2]", 7, "anon_inode:[eventfd]",
                8, "anon_inode:[eventpoll]"))).as("socket, eventfd, epoll").isFalse();
        assertThat(FdReader.hasInexpressible(base, Map.of(0, "/dev/null", 9, "pipe:[3]"))).as("pipe").isFalse();
        assertThat(FdReader.hasInexpressible(base, Map.of(0, "/dev/null", 9, "/tmp/log"))).as("regular file").isTrue();
        assertThat(FdReader.hasInexpressible(base, Map.of(0, "/tmp/x"))).as("fd 0 pointing elsewhere").isTrue();
        assertThat(FdReader.hasInexpressible(base, Map.of(0, "/dev/null", 4, "anon_inode:[timerfd]"))).as("timerfd").isTrue();
    }

    @Test
    void anEpollTargetMustBeTheSameSocketNotJustTheSameFdNumber() {
        assertThat(FdReader.sameInode("socket:[212320]", 0x33d60)).isTrue();
        assertThat(FdReader.sameInode("socket:[212321]", 0x33d60)).as("fd number reused by another socket").isFalse();
        assertThat(FdReader.sameInode("pipe:[7]", 8)).isFalse();
        assertThat(FdReader.sameInode("anon_inode:[eventfd]", 0x40e)).as("anon inodes share one inode").isTrue();
    }
}
