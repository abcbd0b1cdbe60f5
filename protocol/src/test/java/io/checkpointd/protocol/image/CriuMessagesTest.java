package io.checkpointd.protocol.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.UnknownFieldSet;
import io.checkpointd.protocol.image.criu.Core.core_entry;
import io.checkpointd.protocol.image.criu.Pagemap.pagemap_entry;
import java.io.IOException;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The generated CRIU classes as the image codecs use them: fields a newer CRIU adds (unknown to the vendored
 * .proto files) survive a decode/encode round trip and a patch, and malformed messages are refused with an
 * {@link IOException}.
 */
class CriuMessagesTest {
    private static byte[] hex(String s) {
        return HexFormat.of().parseHex(s.replace(" ", ""));
    }

    /**
     * pagemap_entry{vaddr=0x1000, compat_nr_pages=0, flags=PE_PRESENT, nr_pages=3}, then fields pagemap.proto does
     * not know, one per wire type: varint 6 = 150, fixed64 7, length-delimited 8 = "ab", fixed32 9.
     */
    private static final byte[] ENTRY_WITH_UNKNOWNS = hex("08 8020 10 00 20 04 28 03  30 9601  39 0102030405060708  42 02 6162  4d 01020304");

    @Test
    void unknownFieldsOfEveryWireTypeSurviveARoundTrip() throws IOException {
        pagemap_entry e = pagemap_entry.parseFrom(ENTRY_WITH_UNKNOWNS);
        assertThat(e.getVaddr()).isEqualTo(0x1000);
        assertThat(e.getNrPages()).isEqualTo(3);
        UnknownFieldSet u = e.getUnknownFields();
        assertThat(u.asMap().keySet()).containsExactly(6, 7, 8, 9);
        assertThat(u.getField(6).getVarintList()).containsExactly(150L);
        assertThat(u.getField(7).getFixed64List()).containsExactly(0x0807060504030201L);
        assertThat(u.getField(8).getLengthDelimitedList().get(0).toStringUtf8()).isEqualTo("ab");
        assertThat(u.getField(9).getFixed32List()).containsExactly(0x04030201);
        // after the known fields, as here, they keep their place: the bytes are CRIU's
        assertThat(e.toByteArray()).isEqualTo(ENTRY_WITH_UNKNOWNS);
        // and a field set anew leaves them as they were
        assertThat(e.toBuilder().setNrPages(5).build().getUnknownFields()).isEqualTo(u);
    }

    @Test
    void unknownFieldsSurviveThePagemapAndCorePatches() throws IOException {
        byte[] pm = ImageFile.of(Pagemap.PAGEMAP_MAGIC, List.of(hex("08 01"), ENTRY_WITH_UNKNOWNS)).encode();
        assertThat(Pagemap.parse(pm).runs()).containsExactly(new Pagemap.Run(0x1000, 3, Pagemap.PE_PRESENT, 0));

        // a core image with an unknown field in thread_core, as a newer CRIU might write: patching the registers keeps it
        CoreImage core = CoreImage.parse(CriuFixtures.read("sleep/core-968.img"));
        core_entry.Builder b = core.message().toBuilder();
        b.getThreadCoreBuilder().setUnknownFields(UnknownFieldSet.newBuilder()
                .addField(99, UnknownFieldSet.Field.newBuilder().addVarint(42).build()).build());
        CoreImage withUnknown = CoreImage.parse(ImageFile.of(ImageFile.CORE_MAGIC, List.of(b.build().toByteArray())).encode());
        long[] gp = withUnknown.gpregs();
        gp[0] = 0x1234;
        CoreImage patched = CoreImage.parse(withUnknown.withThreadState(gp, withUnknown.xstate(CriuFixtures.EPYC), 0).encode());
        assertThat(patched.gpregs()[0]).isEqualTo(0x1234);
        assertThat(patched.message().getThreadCore().getUnknownFields().getField(99).getVarintList()).containsExactly(42L);
    }

    @Test
    void malformedMessagesAreRefusedWithAnIOException() {
        List<byte[]> bad = List.of(
                hex("08"),                 // truncated varint
                hex("08 8020 12 05 01"),   // length past the end
                hex("08 8020 0b 0c"),      // a group (wire type 3) never closed
                hex("08 8020 39 0102"),    // truncated fixed64
                hex("20 04"),              // vaddr and compat_nr_pages (required) missing
                hex("08 ffffffffffffffffffff01 10 00")); // varint longer than ten bytes
        for (byte[] b : bad) {
            assertThatThrownBy(() -> pagemap_entry.parseFrom(b)).as(HexFormat.of().formatHex(b))
                    .isInstanceOf(InvalidProtocolBufferException.class).isInstanceOf(IOException.class);
        }
    }

    @Test
    void repeatedScalarsAreWrittenUnpackedAsProtobufCWritesThem() throws IOException {
        // pstree_entry{pid=1, ppid=0, pgid=1, sid=1, threads=[1, 2]}: proto2 without [packed=true]
        byte[] criu = hex("08 01 10 00 18 01 20 01 28 01 28 02");
        PstreeImage p = PstreeImage.parse(image(PstreeImage.PSTREE_MAGIC, criu));
        assertThat(p.threads(1)).containsExactly(1, 2);
        assertThat(p.withThreads(1, List.of(1, 2)).encode()).isEqualTo(image(PstreeImage.PSTREE_MAGIC, criu));
        // a packed list (which protobuf-c also reads) is accepted and written back unpacked
        byte[] packed = hex("08 01 10 00 18 01 20 01 2a 02 0102");
        assertThat(PstreeImage.parse(image(PstreeImage.PSTREE_MAGIC, packed)).withThreads(1, List.of(1, 2)).encode())
                .isEqualTo(image(PstreeImage.PSTREE_MAGIC, criu));
    }

    private static byte[] image(int magic, byte[] entry) {
        return ImageFile.of(magic, List.of(entry)).encode();
    }
}
