package io.checkpointd.restore.failover;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.linux.criu.RestoreOptions;
import io.checkpointd.protocol.image.HostFiles;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HostFilesSetupTest {
    @TempDir
    Path tmp;

    private Path images(HostFiles h) throws Exception {
        Path images = Files.createDirectories(tmp.resolve("images"));
        Files.write(images.resolve(HostFiles.NAME), h.encode());
        return images;
    }

    private static int uid() throws Exception {
        return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    }

    @Test
    void createsAMissingPerfDataFileWithItsContentsModeAndOwner() throws Exception {
        Path perf = tmp.resolve("hsperfdata_app/4242");
        byte[] contents = new byte[32768];
        contents[0] = (byte) 0xca;
        HostFiles h = new HostFiles(List.of(), List.of(new HostFiles.SharedFile(perf.toString(), 0600, uid(), uid(), contents)));
        try (HostFilesSetup s = HostFilesSetup.prepare(images(h), new ServiceOutput.ToFile(tmp.resolve("out.log")))) {
            // CRIU opens it through an inherited fd keyed by its path without the leading '/'
            assertThat(s.keys()).containsExactly(perf.toString().substring(1));
        }
        assertThat(Files.readAllBytes(perf)).isEqualTo(contents);
        assertThat(Files.getAttribute(perf, "unix:mode")).isEqualTo(0100600);
        assertThat(Files.getAttribute(perf.getParent(), "unix:mode")).isEqualTo(040755);
        assertThat(Files.list(perf.getParent()).toList()).containsExactly(perf); // no temporary left behind
    }

    @Test
    void theInheritedFdStillHoldsTheFileAfterAnotherJvmRemovedItsName() throws Exception {
        // a JVM of the same user starting before the restored pid exists deletes an hsperfdata file of a dead pid
        Path perf = tmp.resolve("hsperfdata_app/4243");
        byte[] contents = new byte[32768];
        contents[100] = 0x5a;
        HostFiles h = new HostFiles(List.of(), List.of(new HostFiles.SharedFile(perf.toString(), 0600, uid(), uid(), contents)));
        try (HostFilesSetup s = HostFilesSetup.prepare(images(h), new ServiceOutput.ToFile(tmp.resolve("out.log")))) {
            Files.delete(perf);
            RestoreOptions o = s.addTo(RestoreOptions.builder(tmp)).build();
            int fd = o.inheritFds().get(perf.toString().substring(1));
            assertThat(Files.readAllBytes(Path.of("/proc/self/fd/" + fd))).isEqualTo(contents);
        }
    }

    @Test
    void neverOverwritesAFileThatExists() throws Exception {
        Path perf = Files.createDirectories(tmp.resolve("hsperfdata_app")).resolve("4242");
        Files.writeString(perf, "a data dir's file, restored just before");
        HostFiles h = new HostFiles(List.of(), List.of(new HostFiles.SharedFile(perf.toString(), 0600, uid(), uid(), new byte[8])));
        HostFilesSetup.prepare(images(h), new ServiceOutput.ToFile(tmp.resolve("out.log"))).close();
        assertThat(Files.readString(perf)).isEqualTo("a data dir's file, restored just before");
    }

    @Test
    void stdoutAndStderrOnOnePipeGetOneInheritedAppendFd() throws Exception {
        Path out = tmp.resolve("logs/out.log");
        HostFiles h = new HostFiles(List.of(new HostFiles.Stdio(0, "pipe:[5]"), new HostFiles.Stdio(1, "pipe:[9]"),
                new HostFiles.Stdio(2, "pipe:[9]")), List.of());
        try (HostFilesSetup s = HostFilesSetup.prepare(images(h), new ServiceOutput.ToFile(out))) {
            assertThat(s.keys()).containsExactly("pipe:[5]", "pipe:[9]");
            Map<String, Integer> fds = s.addTo(RestoreOptions.builder(tmp)).build().inheritFds();
            int fd = fds.get("pipe:[9]");
            assertThat(Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd))).isEqualTo(out);
            assertThat(Files.readSymbolicLink(Path.of("/proc/self/fd/" + fds.get("pipe:[5]"))).toString()).isEqualTo("/dev/null");
            String flags = Files.readAllLines(Path.of("/proc/self/fdinfo/" + fd)).stream().filter(l -> l.startsWith("flags:")).findFirst().orElseThrow();
            int f = Integer.parseInt(flags.substring(6).trim(), 8);
            assertThat(f & 02000000).as("CRIU's swrk inherits it: not close-on-exec").isZero();
            assertThat(f & 02000).as("O_APPEND").isNotZero();
        }
        assertThat(Files.exists(out)).isTrue();
    }

    @Test
    void aJournalStreamStartsWithJournaldsHeader() throws Exception {
        Path sock = tmp.resolve("journal.sock");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(sock));
            HostFiles h = new HostFiles(List.of(new HostFiles.Stdio(2, "socket:[31]")), List.of());
            try (HostFilesSetup s = HostFilesSetup.prepare(images(h), new ServiceOutput.ToJournal(sock, "kv"));
                 SocketChannel peer = server.accept()) {
                assertThat(s.keys()).containsExactly("socket:[31]");
                ByteBuffer b = ByteBuffer.allocate(64);
                while (b.position() < "kv\n\n3\n0\n0\n0\n0\n".length()) peer.read(b);
                assertThat(new String(b.array(), 0, b.position(), StandardCharsets.UTF_8)).isEqualTo("kv\n\n3\n0\n0\n0\n0\n");
            }
        }
    }

    @Test
    void noHostFilesInTheImageMeansNothingToDo() throws Exception {
        Path images = Files.createDirectories(tmp.resolve("old-images"));
        try (HostFilesSetup s = HostFilesSetup.prepare(images, new ServiceOutput.ToFile(tmp.resolve("out.log")))) {
            assertThat(s.keys()).isEmpty();
        }
        assertThat(Files.exists(tmp.resolve("out.log"))).isFalse();
    }
}
