package io.checkpointd.linux.proc;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class ProcFsTest {
    private static final int SELF = (int) ProcessHandle.current().pid();

    @Test
    void parsesMapsLinesIncludingPathsWithSpaces() {
        Vma v = Vma.parse("7f0e1c000000-7f0e1c021000 rw-p 00001000 fd:01 1234   /tmp/a b (deleted)");
        assertThat(v.start()).isEqualTo(0x7f0e1c000000L);
        assertThat(v.end()).isEqualTo(0x7f0e1c021000L);
        assertThat(v.length()).isEqualTo(0x21000);
        assertThat(v.isWritable()).isTrue();
        assertThat(v.isPrivate()).isTrue();
        assertThat(v.isExecutable()).isFalse();
        assertThat(v.offset()).isEqualTo(0x1000);
        assertThat(v.dev()).isEqualTo("fd:01");
        assertThat(v.inode()).isEqualTo(1234);
        assertThat(v.path()).isEqualTo("/tmp/a b (deleted)");
        assertThat(Vma.parse("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]").isSpecial()).isTrue();
        assertThat(Vma.parse("7ffd1000-7ffd2000 rw-p 00000000 00:00 0").path()).isEmpty();
    }

    @Test
    void parsesEveryLineOfOwnMapsLikeTheTextSays() throws Exception {
        for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/maps"))) {
            String[] f = line.trim().split("\\s+", 6);
            Vma v = Vma.parse(line);
            assertThat(Long.toHexString(v.start()) + "-" + Long.toHexString(v.end())).isEqualTo(f[0]);
            assertThat(v.perms()).isEqualTo(f[1]);
            assertThat(v.offset()).isEqualTo(Long.parseUnsignedLong(f[2], 16));
            assertThat(v.dev()).isEqualTo(f[3]);
            assertThat(v.inode()).isEqualTo(Long.parseLong(f[4]));
            assertThat(v.path()).isEqualTo(f.length > 5 ? f[5].trim() : "");
        }
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Vma.parse("garbage")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void readsOwnMapsThreadsAndStatus() throws Exception {
        List<Vma> maps = ProcFs.maps(SELF);
        assertThat(maps).anyMatch(v -> v.path().equals("[vdso]"));
        assertThat(maps).anyMatch(v -> v.path().equals("[stack]"));
        assertThat(ProcFs.threads(SELF)).contains(SELF).hasSizeGreaterThan(1);
        assertThat(ProcFs.statusField(SELF, "Pid")).contains(Integer.toString(SELF));
        assertThat(ProcFs.state(SELF)).isIn('R', 'S');
    }
}
