package io.checkpointd.protocol.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

class ProtoMessageTest {
    private static byte[] hex(String s) {
        return HexFormat.of().parseHex(s.replace(" ", ""));
    }

    /** field 1 = 150, unknown fixed64 field 7, a non-minimal varint 3 (= 1), packed field 4 [3, 270], nested 5 {1: 1}, fixed32 9. */
    private static final byte[] SAMPLE = hex("08 9601  39 0102030405060708  18 8100  22 03 03 8e02  2a 02 0801  4d 01020304");

    @Test
    void parseEncodeIsByteIdenticalAndReadsEveryShape() throws IOException {
        ProtoMessage m = ProtoMessage.parse(SAMPLE);
        assertThat(m.encode()).isEqualTo(SAMPLE);
        assertThat(m.fieldNumbers()).containsExactly(1, 7, 3, 4, 5, 9);
        assertThat(m.varint(1)).isEqualTo(150);
        assertThat(m.varint(3)).isEqualTo(1);
        assertThat(m.repeatedVarints(4)).containsExactly(3, 270);
        assertThat(m.message(5).varint(1)).isEqualTo(1);
        assertThat(m.findVarint(2)).isEmpty();
        assertThatThrownBy(() -> m.varint(7)).isInstanceOf(IllegalStateException.class);
        // reading a nested message as a view does not change its bytes
        assertThat(m.encode()).isEqualTo(SAMPLE);
    }

    @Test
    void settingAnEqualValueKeepsANonMinimalEncoding() throws IOException {
        ProtoMessage m = ProtoMessage.parse(SAMPLE);
        m.setVarint(3, 1);
        m.setRepeatedVarints(4, new long[] {3, 270});
        assertThat(m.encode()).isEqualTo(SAMPLE);
        m.setVarint(3, 2);
        assertThat(m.encode()).isEqualTo(hex("08 9601  39 0102030405060708  18 02  22 03 03 8e02  2a 02 0801  4d 01020304"));
    }

    @Test
    void newFieldsGoInNumberOrderAndNestedChangesResizeTheParent() throws IOException {
        ProtoMessage m = ProtoMessage.parse(SAMPLE);
        m.setVarint(2, 5); // goes before the first field numbered above 2: the unknown 7
        m.message(5).setVarint(2, 300);
        assertThat(m.encode()).isEqualTo(
                hex("08 9601  10 05  39 0102030405060708  18 8100  22 03 03 8e02  2a 05 0801 10ac02  4d 01020304"));
    }

    @Test
    void repeatedFieldsKeepTheirStyleAndNewOnesAreUnpacked() throws IOException {
        ProtoMessage m = ProtoMessage.parse(SAMPLE);
        m.setRepeatedVarints(4, new long[] {1, 2, 3});
        m.setRepeatedVarints(6, new long[] {7, 8});
        assertThat(m.encode()).isEqualTo(
                hex("08 9601  30 07 30 08  39 0102030405060708  18 8100  22 03 010203  2a 02 0801  4d 01020304"));
        ProtoMessage u = ProtoMessage.parse(hex("08 01 08 02 10 00 08 03"));
        assertThat(u.repeatedVarints(1)).containsExactly(1, 2, 3);
        u.setRepeatedVarints(1, new long[] {9, 9});
        assertThat(u.encode()).isEqualTo(hex("08 09 08 09 10 00"));
        u.setRepeatedVarints(1, new long[0]);
        assertThat(u.encode()).isEqualTo(hex("10 00"));
    }

    @Test
    void repeatedMessagesAreReplacedInPlace() throws IOException {
        ProtoMessage m = ProtoMessage.parse(hex("08 01 12 02 0801 12 02 0802 18 03"));
        ProtoMessage a = new ProtoMessage();
        a.setVarint(1, 7);
        m.setMessages(2, List.of(a, a, a));
        assertThat(m.encode()).isEqualTo(hex("08 01 12 02 0807 12 02 0807 12 02 0807 18 03"));
        assertThat(m.messages(2)).hasSize(3);
    }

    @Test
    void negativeAndSignedValuesEncodeAsProtobufC() {
        ProtoMessage m = new ProtoMessage();
        m.setVarint(1, -1);                       // int32/int64 -1: ten bytes
        m.setVarint(2, ProtoMessage.zigzag(-1));  // sint64 -1: one byte
        assertThat(m.encode()).isEqualTo(hex("08 ffffffffffffffffff01 10 01"));
        assertThat(ProtoMessage.unzigzag(m.varint(2))).isEqualTo(-1);
        assertThat(ProtoMessage.unzigzag(ProtoMessage.zigzag(Long.MIN_VALUE))).isEqualTo(Long.MIN_VALUE);
    }

    @Test
    void rejectsTruncatedInputAndGroups() {
        assertThatThrownBy(() -> ProtoMessage.parse(hex("08"))).isInstanceOf(IOException.class);
        assertThatThrownBy(() -> ProtoMessage.parse(hex("12 05 01"))).isInstanceOf(IOException.class);
        assertThatThrownBy(() -> ProtoMessage.parse(hex("0b 0c"))).isInstanceOf(IOException.class);
        assertThatThrownBy(() -> ProtoMessage.parse(hex("39 0102"))).isInstanceOf(IOException.class);
    }

    @Test
    void copiesAreIndependent() throws IOException {
        ProtoMessage m = ProtoMessage.parse(SAMPLE);
        ProtoMessage c = m.copy();
        c.message(5).setVarint(1, 2);
        assertThat(m.encode()).isEqualTo(SAMPLE);
        assertThat(c.message(5).varint(1)).isEqualTo(2);
    }

    @Test
    void imageFileFramingRoundTrips() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.writeBytes(hex("19435654 47380555 02000000 0801 00000000"));
        byte[] file = b.toByteArray();
        ImageFile f = ImageFile.parse(file, ImageFile.CORE_MAGIC);
        assertThat(f.entryCount()).isEqualTo(2);
        assertThat(f.entry(1)).isEmpty();
        assertThat(f.encode()).isEqualTo(file);
        assertThatThrownBy(() -> ImageFile.parse(file, ImageFile.MM_MAGIC)).isInstanceOf(IOException.class);
        assertThatThrownBy(() -> ImageFile.parse(hex("19435654 47380555 05000000 0801"), ImageFile.CORE_MAGIC))
                .isInstanceOf(IOException.class);
        byte[] inventory = hex("16313158 02000000 0801");
        assertThat(ImageFile.parse(inventory, ImageFile.INVENTORY_MAGIC).encode()).isEqualTo(inventory);
    }
}
