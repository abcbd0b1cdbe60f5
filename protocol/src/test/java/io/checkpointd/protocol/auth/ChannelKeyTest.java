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
    void theProxyKeyOpensTheControlLinkOnly() throws Exception {
        ChannelKey master = ChannelKey.load(keyFile("key", 32, "rw-------"));
        Path file = tmp.resolve("proxy.key");
        master.writeProxyKey(file);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        ChannelKey proxy = ChannelKey.load(file);
        assertThat(proxy.controlOnly()).isTrue();
        assertThat(master.controlOnly()).isFalse();
        assertThat(proxy.opens(Link.CONTROL)).isTrue();
        assertThat(proxy.opens(Link.REPLICATION)).isFalse();
        // same control link as the deployment's key, and nothing of its replication link
        assertThat(proxy.keyId(Link.CONTROL)).isEqualTo(master.keyId(Link.CONTROL));
        assertThat(proxy.keyId(Link.REPLICATION)).isNotEqualTo(master.keyId(Link.REPLICATION));
        byte[] c = master.newNonce(), sv = master.newNonce();
        assertThat(proxy.connection(Link.CONTROL, FrameAuth.Side.SERVER, c, sv).toString()).contains("HMAC");
        assertThatThrownBy(() -> proxy.connection(Link.REPLICATION, FrameAuth.Side.CLIENT, c, sv)).hasMessageContaining("proxy key");
        // on the replication port the backup names it; a stranger's key it does not
        assertThatThrownBy(() -> AuthHandshake.accept(master, Link.REPLICATION, FrameAuth.Side.SERVER, sv,
                authFrame(proxy, Link.REPLICATION, c))).hasMessageContaining("the peer holds the proxy's key");
        assertThatThrownBy(() -> AuthHandshake.accept(master, Link.REPLICATION, FrameAuth.Side.SERVER, sv,
                authFrame(ChannelKey.random(), Link.REPLICATION, c))).hasMessageContaining("different --auth-key");
        assertThat(AuthHandshake.accept(master, Link.CONTROL, FrameAuth.Side.SERVER, sv, authFrame(proxy, Link.CONTROL, c))).isNotNull();
        // damaged, and no overwrite
        Path bad = tmp.resolve("bad.key");
        Files.writeString(bad, ChannelKey.PROXY_KEY_HEADER + "\nnot hex at all, but long enough to pass the size check\n");
        Files.setPosixFilePermissions(bad, PosixFilePermissions.fromString("rw-------"));
        assertThatThrownBy(() -> ChannelKey.load(bad)).hasMessageContaining("damaged").hasMessageContaining("checkpointd proxy-key");
        assertThatThrownBy(() -> master.writeProxyKey(file)).isInstanceOf(java.nio.file.FileAlreadyExistsException.class);
        assertThat(proxy.proxyKey().keyId()).isEqualTo(proxy.keyId());
        assertThatThrownBy(() -> ChannelKey.insecurePlaintext().proxyKey()).isInstanceOf(IllegalStateException.class);
    }

    private static io.checkpointd.protocol.Frame authFrame(ChannelKey k, Link link, byte[] nonce) throws Exception {
        return io.checkpointd.protocol.FrameCodec.decodeAuth(io.netty.buffer.Unpooled.wrappedBuffer(AuthHandshake.authFrame(k, link, nonce)));
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
