package io.checkpointd.protocol.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Key files: what is accepted, and that every refusal names the fix. */
class ChannelKeyTest {
    @TempDir
    Path tmp;

    @Test
    void aPrivateFileOfRandomBytesIsAKey() throws Exception {
        Path f = keyFile("key", 32, "rw-------");
        ChannelKey a = ChannelKey.load(f), b = ChannelKey.load(f);
        assertThat(a.authenticated()).isTrue();
        assertThat(a.keyId()).isEqualTo(b.keyId()).isNotEqualTo(ChannelKey.random().keyId());
        assertThat(a.toString()).doesNotContain(new String(Files.readAllBytes(f), java.nio.charset.StandardCharsets.ISO_8859_1));
        assertThat(ChannelKey.load(keyFile("ro", 64, "r--------")).authenticated()).isTrue();
        assertThat(ChannelKey.insecurePlaintext().authenticated()).isFalse();
        Path link = Files.createSymbolicLink(tmp.resolve("link"), f); // the target's mode counts, not the link's
        assertThat(ChannelKey.load(link).keyId()).isEqualTo(a.keyId());
    }

    @Test
    void badKeyFilesAreRefusedWithTheFix() throws Exception {
        assertThatThrownBy(() -> ChannelKey.load(keyFile("short", 31, "rw-------")))
                .isInstanceOf(ChannelKey.KeyFileException.class).hasMessageContaining("31 bytes").hasMessageContaining("/dev/urandom");
        assertThatThrownBy(() -> ChannelKey.load(keyFile("group", 32, "rw-r-----"))).hasMessageContaining("chmod 600");
        assertThatThrownBy(() -> ChannelKey.load(keyFile("world", 32, "rw----r--"))).hasMessageContaining("mode 604");
        assertThatThrownBy(() -> ChannelKey.load(keyFile("huge", ChannelKey.MAX_BYTES + 1, "rw-------"))).hasMessageContaining("bytes");
        assertThatThrownBy(() -> ChannelKey.load(tmp.resolve("missing"))).hasMessageContaining("does not exist");
        assertThatThrownBy(() -> ChannelKey.load(tmp)).hasMessageContaining("not a regular file");
        assertThatThrownBy(() -> ChannelKey.of(new byte[16])).isInstanceOf(IllegalArgumentException.class);
    }

    private Path keyFile(String name, int size, String perms) throws Exception {
        byte[] b = new byte[size];
        new Random(size).nextBytes(b);
        Path f = tmp.resolve(name);
        Files.write(f, b);
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString(perms));
        return f;
    }
}
