package io.checkpointd.linux.proc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The system-call readers of /proc agree with java.nio.file on this process. */
class ProcFilesTest {
    private static final long SELF = ProcessHandle.current().pid();

    @Test
    void mapsBytesParseLikeTheLines() throws Exception {
        byte[] text = ProcFiles.read("/proc/self/maps");
        String[] lines = new String(text, StandardCharsets.UTF_8).split("\n");
        int at = 0, n = 0;
        for (String line : lines) {
            byte[] b = line.getBytes(StandardCharsets.UTF_8);
            assertEquals(Vma.parse(line), Vma.parse(text, at, at + b.length), line);
            at += b.length + 1;
            n++;
        }
        assertTrue(n > 20, "a JVM has more than 20 mappings: " + n);
        // odd forms: a path with spaces, a deleted file, no path, trailing blanks
        for (String line : List.of("7f00-7f01 rw-p 00000000 00:00 0 ", "400000-401000 r-xs 0001a000 fd:01 123 /a b/c d (deleted)",
                "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]", "1000-2000 ---p 0 00:00 0")) {
            byte[] b = line.getBytes(StandardCharsets.UTF_8);
            assertEquals(Vma.parse(line), Vma.parse(b, 0, b.length), line);
        }
    }

    @Test
    void mapsAreParsedOnceWhileUnchanged() throws Exception {
        List<Vma> a = ProcFs.maps((int) SELF);
        assertEquals(Vma.parse(Files.readAllLines(Path.of("/proc/self/maps")).get(0)), a.get(0));
        // this thread's next read may differ (the JVM maps memory): equal content, the same list
        List<Vma> b = ProcFs.maps((int) SELF), c = ProcFs.maps((int) SELF);
        if (b.equals(c)) assertSame(b, c);
        assertThrows(UnsupportedOperationException.class, () -> a.add(a.get(0)));
    }

    @Test
    void fdsThreadsStatusAndLinks(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("file");
        Files.write(f, new byte[12345]);
        try (var ch = java.nio.channels.FileChannel.open(f)) {
            ch.position(77);
            Map<Integer, String> fds = ProcFiles.fds((int) SELF);
            Map<Integer, String> expect = new TreeMap<>();
            try (var ds = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
                for (Path p : ds) {
                    try {
                        expect.put(Integer.parseInt(p.getFileName().toString()), Files.readSymbolicLink(p).toString());
                    } catch (NoSuchFileException gone) {
                        // the directory stream's own fd
                    }
                }
            }
            expect.keySet().retainAll(fds.keySet()); // the listing fds of either reader
            fds.keySet().retainAll(expect.keySet());
            assertEquals(expect, fds);
            int fd = fds.entrySet().stream().filter(e -> e.getValue().equals(f.toString())).findFirst().orElseThrow().getKey();
            ProcFiles.Stat st = ProcFiles.stat("/proc/self/fd/" + fd);
            assertTrue(st.isRegularFile());
            assertEquals(12345, st.size());
            assertEquals("77", ProcFiles.field(ProcFiles.read("/proc/self/fdinfo/" + fd), "pos:"));
            assertTrue(!ProcFiles.stat("/proc/self").isRegularFile());
        }
        List<Integer> tids = ProcFs.threads((int) SELF);
        assertTrue(tids.contains((int) SELF) && tids.size() > 1, tids.toString());
        assertEquals(new ArrayList<>(tids).stream().sorted().toList(), tids);
        assertEquals(Files.readSymbolicLink(Path.of("/proc/self/cwd")).toString(), ProcFiles.readlink("/proc/self/cwd"));
        byte[] status = ProcFiles.read("/proc/self/status");
        assertEquals(Long.toString(SELF), ProcFiles.field(status, "Pid:"));
        assertNull(ProcFiles.field(status, "NoSuchField:"));
        assertEquals(ProcFs.status((int) SELF).get("Name"), ProcFiles.field(status, "Name:"));
        assertThrows(NoSuchFileException.class, () -> ProcFiles.read("/proc/self/no-such-file"));
        assertThrows(NoSuchFileException.class, () -> ProcFs.maps(Integer.MAX_VALUE - 1));
    }

    @Test
    void oneRecordFilesReadWholeInOneReadOrSeveral() throws Exception {
        String comm = "/proc/self/task/" + ProcFs.threads((int) SELF).get(0) + "/comm";
        assertEquals(new String(Files.readAllBytes(Path.of(comm))), new String(ProcFiles.readSingle(comm)));
        assertEquals(ProcFiles.field(ProcFiles.read("/proc/self/status"), "Name:"), ProcFiles.field(ProcFiles.readSingle("/proc/self/status"), "Name:"));
        // an epoll set's fdinfo (one tfd line per target) longer than the reader's first buffer (64 KiB)
        List<java.nio.channels.Pipe> pipes = new ArrayList<>();
        try (java.nio.channels.Selector sel = java.nio.channels.Selector.open()) {
            for (int i = 0; i < 900; i++) {
                java.nio.channels.Pipe p = java.nio.channels.Pipe.open();
                pipes.add(p);
                p.source().configureBlocking(false).register(sel, java.nio.channels.SelectionKey.OP_READ);
            }
            sel.selectNow(); // registrations reach the epoll set
            String path = null;
            byte[] got = new byte[0];
            for (Map.Entry<Integer, String> e : ProcFiles.fds((int) SELF).entrySet()) {
                if (!e.getValue().equals("anon_inode:[eventpoll]")) continue;
                byte[] b = ProcFiles.readSingle("/proc/self/fdinfo/" + e.getKey());
                if (b.length > got.length) {
                    got = b;
                    path = "/proc/self/fdinfo/" + e.getKey(); // the selector's: the largest set
                }
            }
            assertTrue(got.length > 64 << 10, "fdinfo of " + got.length + " bytes");
            assertEquals(new String(Files.readAllBytes(Path.of(path))), new String(got));
        } finally {
            for (java.nio.channels.Pipe p : pipes) {
                p.source().close();
                p.sink().close();
            }
        }
    }
}
