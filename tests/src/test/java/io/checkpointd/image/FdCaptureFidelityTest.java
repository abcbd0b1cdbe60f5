package io.checkpointd.image;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import com.google.protobuf.TextFormat;
import io.checkpointd.linux.criu.Criu;
import io.checkpointd.linux.freezer.Freezer;
import io.checkpointd.linux.proc.ProcFiles;
import io.checkpointd.primary.engine.fds.FdChanges;
import io.checkpointd.primary.engine.fds.FdReader;
import io.checkpointd.primary.engine.patch.FilesImage;
import io.checkpointd.primary.engine.patch.OpenFiles;
import io.checkpointd.protocol.image.ImageFile;
import io.checkpointd.protocol.image.criu.Fdinfo.fd_types;
import io.checkpointd.protocol.image.criu.Fdinfo.fdinfo_entry;
import io.checkpointd.protocol.image.criu.Fdinfo.file_entry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The engine's capture of fds opened and closed after a base dump ({@link FdReader}, patched in by
 * {@link FilesImage}) against CRIU's own dump of the same frozen process: for every fd, the {@code fdinfo_entry}
 * and the {@code file_entry} it names must be CRIU's, field by field, but for the file ids (each dump numbers its
 * files itself). {@link FdChurnTarget} opens IPv4 and IPv6 listeners, outbound and accepted connections with
 * options set, epoll registrations, a new selector, sockets no {@code sock_diag} table lists (unbound, bound only,
 * reset), and closes a connection of the base dump.
 */
class FdCaptureFidelityTest extends DetachedTargetTest {
    private static final int FILES_MAGIC = 0x56303138, FDINFO_MAGIC = 0x56213732;

    @Test
    @Timeout(120)
    void newSocketsEpollSetsAndClosedFdsEqualCriusEntries() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("target"));
        int pid = targets.startJava(FdChurnTarget.class, dir.toString());
        DetachedTargets.awaitFile(dir.resolve("ready1"), pid);
        Criu criu = Criu.locate();
        Path base = Files.createDirectory(tmp.resolve("base")), truth = Files.createDirectory(tmp.resolve("truth"));
        Map<String, byte[]> patched;
        FdChanges changes;
        try (Freezer freezer = Freezer.forProcess(pid); FdReader reader = new FdReader(pid)) {
            freezer.freeze(Duration.ofSeconds(10));
            DetachedTargets.engineDump(criu, pid, base, freezer);
            Map<Integer, String> baseFds = ProcFiles.fds(pid);
            freezer.thaw();
            Files.writeString(dir.resolve("go"), "");
            DetachedTargets.awaitFile(dir.resolve("ready2"), pid);
            freezer.freeze(Duration.ofSeconds(10));
            DetachedTargets.engineDump(criu, pid, truth, freezer);
            Map<Integer, String> nowFds = ProcFiles.fds(pid);
            FdReader.Result r = reader.read(baseFds, nowFds);
            assertThat(r.why()).as("every new fd expressible").isNull();
            changes = r.changes();
            patched = imageFiles(base);
            FilesImage.of(patched).patch(patched, OpenFiles.read(pid, nowFds, reader.fdInfo(nowFds.keySet())), changes);
            freezer.thaw();
        }
        assertThat(changes.closed()).as("the base connection, closed at both ends").hasSize(2);
        assertThat(changes.opened().values()).extracting(FdChanges.Opened::type)
                .contains(FdChanges.INETSK, FdChanges.EVENTPOLL, FdChanges.EVENTFD, FdChanges.PIPE);

        Map<String, byte[]> crius = imageFiles(truth);
        Map<Integer, fdinfo_entry> ours = byFd(patched), theirs = byFd(crius);
        assertThat(ours.keySet()).as("fds").isEqualTo(theirs.keySet());
        int sockets = 0, epolls = 0;
        for (int fd : theirs.keySet()) {
            fdinfo_entry a = ours.get(fd), b = theirs.get(fd);
            String what = "fd " + fd + " (type " + b.getType() + ")";
            assertThat(a.getFlags()).as(what + " fd flags").isEqualTo(b.getFlags());
            assertThat(a.getType()).as(what + " type").isEqualTo(b.getType());
            file_entry fa = fileEntry(patched, a.getId()), fb = fileEntry(crius, b.getId());
            assertFieldByField(what, withoutIds(fa), withoutIds(fb));
            if (b.getType() == fd_types.INETSK) sockets++;
            if (b.getType() == fd_types.EVENTPOLL) epolls++;
        }
        assertThat(sockets).as("sockets compared").isGreaterThanOrEqualTo(10);
        assertThat(epolls).as("epoll sets compared").isEqualTo(2);
        System.out.printf("fd capture fidelity: %d fds equal CRIU's (%d TCP sockets, %d epoll sets), %d opened, %d closed%n",
                theirs.size(), sockets, epolls, changes.opened().size(), changes.closed().size());
    }

    /** Compares two messages field by field (in text form, so that a diff names the field), then byte for byte. */
    private static void assertFieldByField(String what, file_entry a, file_entry b) {
        assertThat(TextFormat.printer().printToString(a)).as(what).isEqualTo(TextFormat.printer().printToString(b));
        assertThat(a.toByteArray()).as(what + " bytes").isEqualTo(b.toByteArray());
    }

    /** A file entry with its ids zeroed: {@code file_entry.id} and the id (field 1) of its type's entry. */
    private static file_entry withoutIds(file_entry fe) {
        file_entry.Builder c = fe.toBuilder().setId(0);
        for (FieldDescriptor f : fe.getAllFields().keySet()) {
            if (f.getJavaType() != FieldDescriptor.JavaType.MESSAGE) continue;
            Message.Builder sub = c.getFieldBuilder(f);
            sub.setField(sub.getDescriptorForType().findFieldByNumber(1), 0);
        }
        return c.build();
    }

    private static Map<Integer, fdinfo_entry> byFd(Map<String, byte[]> files) throws Exception {
        String name = files.keySet().stream().filter(n -> n.startsWith("fdinfo-")).findFirst().orElseThrow();
        ImageFile img = ImageFile.parse(files.get(name), FDINFO_MAGIC);
        Map<Integer, fdinfo_entry> out = new TreeMap<>();
        for (int i = 0; i < img.entryCount(); i++) {
            fdinfo_entry e = img.message(i, fdinfo_entry.parser());
            out.put(e.getFd(), e);
        }
        return out;
    }

    private static file_entry fileEntry(Map<String, byte[]> files, int id) throws Exception {
        ImageFile img = ImageFile.parse(files.get("files.img"), FILES_MAGIC);
        for (int i = 0; i < img.entryCount(); i++) {
            file_entry fe = img.message(i, file_entry.parser());
            if (fe.getId() == id) return fe;
        }
        throw new AssertionError("no file entry " + id);
    }

    private static Map<String, byte[]> imageFiles(Path dir) throws Exception {
        Map<String, byte[]> out = new TreeMap<>();
        try (var ds = Files.newDirectoryStream(dir, "*.img")) {
            for (Path p : ds) if (!p.getFileName().toString().startsWith("pages-")) out.put(p.getFileName().toString(), Files.readAllBytes(p));
        }
        return out;
    }
}
