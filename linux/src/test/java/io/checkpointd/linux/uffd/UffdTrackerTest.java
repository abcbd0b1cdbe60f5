package io.checkpointd.linux.uffd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.checkpointd.linux.Features;
import io.checkpointd.linux.Syscalls;
import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.testing.Children;
import io.checkpointd.linux.testing.MemoryChild;
import java.io.BufferedReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class UffdTrackerTest {
    private final Children children = new Children();

    @AfterEach
    void killChildren() throws InterruptedException {
        children.close();
    }

    @Test
    void injectedUffdReportsExactlyThePageTheChildWrote() throws Exception {
        assumeTrue(Features.ptrace().isAvailable(), () -> Features.ptrace().toString());
        assumeTrue(Features.uffdWriteProtect().isAvailable(), () -> Features.uffdWriteProtect().toString());
        Children.Grandchild g = children.javaGrandchild(MemoryChild.class); // not our child: see Children
        Process p = g.shell();
        int pid = g.pid();
        BufferedReader out = g.stdout();
        String[] addr = Children.readLineStartingWith(out, "ADDR ").split(" ");
        long base = Long.parseUnsignedLong(addr[1], 16);
        long end = base + Integer.parseInt(addr[2]);

        try (UffdTracker tracker = UffdTracker.attach(pid)) {
            // The target keeps no userfaultfd of its own: the injected close ran.
            assertThat(anonInodeFds(pid, "[userfaultfd]")).isZero();
            tracker.track(base, end);
            assertThat(smapsFlags(pid, base)).contains("uw");

            assertThat(stopped(pid, () -> tracker.collectWritten().written())).as("nothing written yet").isEmpty();

            int offset = 2 * 4096 + 8;
            Children.send(p, "w " + offset + " 42");
            assertThat(Children.readLineStartingWith(out, "ok")).isEqualTo("ok");

            List<PagemapScan.PageRegion> written = stopped(pid, () -> tracker.collectWritten().written());
            assertThat(written).hasSize(1);
            assertThat(written.get(0).start()).isEqualTo(base + 2 * 4096);
            assertThat(written.get(0).end()).isEqualTo(base + 3 * 4096);
            assertThat(written.get(0).categories() & PagemapScan.PAGE_IS_WRITTEN).isNotZero();

            assertThat(stopped(pid, () -> tracker.collectWritten().written())).as("re-protected by the first scan").isEmpty();

            // The child still works normally under tracking.
            Children.send(p, "w 0 1");
            assertThat(Children.readLineStartingWith(out, "ok")).isEqualTo("ok");
            assertThat(stopped(pid, () -> tracker.collectWritten(base, end))).extracting(PagemapScan.PageRegion::start).containsExactly(base);
        }
        Children.send(p, "q");
        assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isZero();
    }

    /**
     * A service running as its own user: with vm.unprivileged_userfaultfd=0 its userfaultfd(2) fails with EPERM unless
     * asked for user-mode faults only, which is all async write-protect needs. The child runs as nobody, from a
     * world-readable copy of its class path.
     */
    @Test
    void tracksAProcessRunningAsAnotherUser(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        assumeTrue(Features.ptrace().isAvailable(), () -> Features.ptrace().toString());
        assumeTrue(Features.uffdWriteProtect().isAvailable(), () -> Features.uffdWriteProtect().toString());
        assumeTrue(Syscalls.geteuid() == 0 && Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs root and setpriv");
        Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        List<String> cp = new java.util.ArrayList<>();
        for (String e : System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")).split(":")) {
            if (!e.endsWith(".jar") || !e.contains("jna")) {
                cp.add(e);
                continue;
            }
            Path copy = tmp.resolve(Path.of(e).getFileName());
            Files.copy(Path.of(e), copy);
            Files.setPosixFilePermissions(copy, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
            cp.add(copy.toString());
        }
        Children.Grandchild g = children.startGrandchild(List.of("/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx64m", "-XX:+UseSerialGC", "-XX:-UsePerfData",
                "-cp", String.join(":", cp), MemoryChild.class.getName()));
        int pid = g.pid();
        BufferedReader out = g.stdout();
        String[] addr = Children.readLineStartingWith(out, "ADDR ").split(" ");
        assertThat(Files.getAttribute(Path.of("/proc/" + pid), "unix:uid")).isEqualTo(65534);
        long base = Long.parseUnsignedLong(addr[1], 16);
        long end = base + Integer.parseInt(addr[2]);
        try (UffdTracker tracker = UffdTracker.attach(pid)) {
            tracker.track(base, end);
            assertThat(stopped(pid, () -> tracker.collectWritten().written())).isEmpty();
            Children.send(g.shell(), "w 8 42");
            assertThat(Children.readLineStartingWith(out, "ok")).isEqualTo("ok");
            assertThat(stopped(pid, () -> tracker.collectWritten(base, end))).extracting(PagemapScan.PageRegion::start).containsExactly(base);
        }
        Children.send(g.shell(), "q");
        assertThat(g.shell().waitFor(10, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    void tracksEveryWritablePrivateVmaOfALiveJvm() throws Exception {
        assumeTrue(Features.ptrace().isAvailable(), () -> Features.ptrace().toString());
        assumeTrue(Features.uffdWriteProtect().isAvailable(), () -> Features.uffdWriteProtect().toString());
        Children.Grandchild g = children.javaGrandchild(MemoryChild.class);
        BufferedReader out = g.stdout();
        long base = Long.parseUnsignedLong(Children.readLineStartingWith(out, "ADDR ").split(" ")[1], 16);
        try (UffdTracker tracker = UffdTracker.attach(g.pid())) {
            assertThat(tracker.trackWritablePrivate()).as("VMAs that failed to register").isEmpty();
            assertThat(tracker.tracked()).isNotEmpty();
            stopped(g.pid(), () -> tracker.collectWritten().written()); // epoch 0: start clean
            Children.send(g.shell(), "w 4096 9");
            assertThat(Children.readLineStartingWith(out, "ok")).isEqualTo("ok");
            List<PagemapScan.PageRegion> written = stopped(g.pid(), () -> tracker.collectWritten().written());
            // The JVM's own threads write too; the test's page must be among them.
            assertThat(written).anyMatch(r -> r.start() <= base + 4096 && base + 4096 < r.end());
        }
        Children.send(g.shell(), "q");
        assertThat(g.shell().waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(g.shell().exitValue()).as("the JVM ran on normally and exited 0").isZero();
    }

    @Test
    void aReplacedMappingIsReportedAsNotTrackedWithoutLosingOtherWrites() throws Exception {
        assumeTrue(Features.ptrace().isAvailable(), () -> Features.ptrace().toString());
        assumeTrue(Features.uffdWriteProtect().isAvailable(), () -> Features.uffdWriteProtect().toString());
        Children.Grandchild g = children.javaGrandchild(MemoryChild.class);
        BufferedReader out = g.stdout();
        String[] addr = Children.readLineStartingWith(out, "ADDR ").split(" ");
        long base = Long.parseUnsignedLong(addr[1], 16);
        long end = base + Integer.parseInt(addr[2]);
        try (UffdTracker tracker = UffdTracker.attach(g.pid())) {
            long mid = base + 16 * 4096;
            tracker.track(base, mid);
            tracker.track(mid, end);
            Children.send(g.shell(), "w 8 1");           // registered page of the first range
            Children.send(g.shell(), "remap " + (20 * 4096)); // replaces a page of the second range: unregistered now
            Children.send(g.shell(), "w " + (17 * 4096) + " 1"); // registered page of the second range
            for (int i = 0; i < 3; i++) Children.readLineStartingWith(out, "ok");
            UffdTracker.Epoch e = stopped(g.pid(), tracker::collectWritten);
            assertThat(e.notTracked()).extracting(PagemapScan.PageRegion::start).containsExactly(mid);
            assertThat(e.written()).extracting(PagemapScan.PageRegion::start).containsExactly(base, base + 17 * 4096);
        }
    }

    interface Scan<T> {
        T run() throws Exception;
    }

    /** Runs {@code scan} while the whole process is SIGSTOPped, as an epoch boundary would. */
    private static <T> T stopped(int pid, Scan<T> scan) throws Exception {
        Syscalls.kill(pid, Syscalls.SIGSTOP);
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (ProcFs.state(pid) != 'T') {
                if (System.nanoTime() > deadline) throw new AssertionError("pid " + pid + " did not stop");
                Thread.sleep(1);
            }
            return scan.run();
        } finally {
            Syscalls.kill(pid, Syscalls.SIGCONT);
        }
    }

    private static long anonInodeFds(int pid, String what) throws Exception {
        try (var s = Files.list(Path.of("/proc", Integer.toString(pid), "fd"))) {
            return s.filter(f -> {
                try {
                    return Files.readSymbolicLink(f).toString().equals("anon_inode:" + what);
                } catch (Exception e) {
                    return false;
                }
            }).count();
        }
    }

    private static String smapsFlags(int pid, long address) throws Exception {
        boolean in = false;
        for (String l : Files.readAllLines(Path.of("/proc", Integer.toString(pid), "smaps"))) {
            if (!l.isEmpty() && Character.isLetterOrDigit(l.charAt(0)) && l.indexOf('-') > 0 && l.indexOf('-') < l.indexOf(' ')) {
                String[] r = l.substring(0, l.indexOf(' ')).split("-");
                in = Long.parseUnsignedLong(r[0], 16) <= address && address < Long.parseUnsignedLong(r[1], 16);
            } else if (in && l.startsWith("VmFlags:")) {
                return l;
            }
        }
        return "";
    }
}
