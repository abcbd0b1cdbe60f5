package io.checkpointd.protocol.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.checkpointd.protocol.ProtocolException;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class DirRecordTest {
    @Test
    void everyKindRoundTrips() throws Exception {
        List<EpochRecord> all = List.of(new EpochRecord.DirRoot(3, "/var/lib/db"), new EpochRecord.DirMkdir(0, "a/b", 0755),
                new EpochRecord.DirCreate(1, "a/f", 04640), new EpochRecord.DirSymlink(0, "l", "../outside"),
                new EpochRecord.DirRename(0, "a/f", "g"), new EpochRecord.DirDelete(0, "g"),
                new EpochRecord.DirResize(0, "f", 3L << 30), new EpochRecord.DirMode(0, "f", 0600),
                new EpochRecord.DirOwner(0, "f", 65534, 65534));
        for (EpochRecord r : all) assertThat(EpochRecord.decode(r.encode())).isEqualTo(r);
        EpochRecord.DirBlocks b = new EpochRecord.DirBlocks(2, "x/y", 1L << 32, new byte[] {1, 2, 3});
        EpochRecord.DirBlocks d = (EpochRecord.DirBlocks) EpochRecord.decode(b.encode());
        assertThat(d.dir()).isEqualTo(2);
        assertThat(d.path()).isEqualTo("x/y");
        assertThat(d.offset()).isEqualTo(1L << 32);
        assertThat(d.data()).containsExactly(1, 2, 3);
    }

    @Test
    void pathsThatCouldEscapeAreRejected() {
        for (String bad : new String[] {"", "/etc/passwd", "a/../../b", "..", ".", "a//b", "a/", "a/./b", "a\0b"}) {
            assertThatThrownBy(() -> EpochRecord.decode(new EpochRecord.DirDelete(0, bad).encode())).as(bad)
                    .isInstanceOf(ProtocolException.class);
            assertThatThrownBy(() -> EpochRecord.decode(new EpochRecord.DirRename(0, "ok", bad).encode())).as(bad)
                    .isInstanceOf(ProtocolException.class);
        }
        for (String bad : new String[] {"relative", "/", "/a/../b", "/a//b", "/a/"}) {
            assertThatThrownBy(() -> EpochRecord.decode(new EpochRecord.DirRoot(0, bad).encode())).as(bad)
                    .isInstanceOf(ProtocolException.class);
        }
        assertThatThrownBy(() -> EpochRecord.decode(new EpochRecord.DirRename(0, "a", "a/b").encode())).isInstanceOf(ProtocolException.class);
    }

    @Test
    void malformedFieldsAreRejected() {
        assertThatThrownBy(() -> EpochRecord.decode(new EpochRecord.DirMkdir(0, "a", 010000).encode())).isInstanceOf(ProtocolException.class);
        assertThatThrownBy(() -> EpochRecord.decode(new EpochRecord.DirResize(0, "a", -1).encode())).isInstanceOf(ProtocolException.class);
        assertThatThrownBy(() -> EpochRecord.decode(new EpochRecord.DirBlocks(0, "a", -4096, new byte[1]).encode())).isInstanceOf(ProtocolException.class);
        assertThatThrownBy(() -> EpochRecord.decode(new EpochRecord.DirBlocks(0, "a", 0, new byte[EpochRecord.MAX_DIR_BLOCKS + 1]).encode()))
                .isInstanceOf(ProtocolException.class);
        assertThatThrownBy(() -> EpochRecord.decode(new EpochRecord.DirDelete(EpochRecord.MAX_DATA_DIRS, "a").encode()))
                .isInstanceOf(ProtocolException.class);
        assertThatThrownBy(() -> EpochRecord.decode(new EpochRecord.DirSymlink(0, "a", "").encode())).isInstanceOf(ProtocolException.class);
        byte[] ok = new EpochRecord.DirBlocks(0, "a", 0, new byte[8]).encode();
        for (int cut = 1; cut < ok.length; cut++) {
            byte[] part = Arrays.copyOf(ok, cut);
            assertThatThrownBy(() -> EpochRecord.decode(part)).isInstanceOf(ProtocolException.class);
        }
        byte[] longer = Arrays.copyOf(ok, ok.length + 1);
        assertThatThrownBy(() -> EpochRecord.decode(longer)).isInstanceOf(ProtocolException.class);
    }
}
