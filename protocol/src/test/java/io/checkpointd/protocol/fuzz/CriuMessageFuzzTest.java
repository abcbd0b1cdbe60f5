package io.checkpointd.protocol.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import io.checkpointd.protocol.image.criu.Core.core_entry;
import io.checkpointd.protocol.image.criu.Fdinfo.fdinfo_entry;
import io.checkpointd.protocol.image.criu.Fdinfo.file_entry;
import io.checkpointd.protocol.image.criu.Mm.mm_entry;
import io.checkpointd.protocol.image.criu.Pagemap.pagemap_entry;
import io.checkpointd.protocol.image.criu.Pagemap.pagemap_head;
import io.checkpointd.protocol.image.criu.Pstree.pstree_entry;
import io.checkpointd.protocol.image.criu.Timens.timens_entry;
import java.util.Arrays;
import java.util.List;

/**
 * The generated decoders of the CRIU messages checkpointd reads (protobuf-java over CRIU's images/*.proto) on
 * arbitrary bytes: the selector picks the message. Parsing may only fail with an
 * {@link InvalidProtocolBufferException}; whatever parses re-encodes to a canonical form that parses to the same
 * message (unknown fields included) and re-encodes to itself.
 */
class CriuMessageFuzzTest {
    /** In selector order (mod the size); FuzzSeeds writes its seeds with these indexes. */
    static final List<Parser<? extends Message>> PARSERS = List.of(pagemap_head.parser(), pagemap_entry.parser(),
            core_entry.parser(), mm_entry.parser(), pstree_entry.parser(), file_entry.parser(), fdinfo_entry.parser(),
            timens_entry.parser());

    @FuzzTest(maxDuration = Fuzz.BUDGET)
    void parse(byte[] data) {
        byte[] x = Fuzz.body(data);
        Parser<? extends Message> parser = PARSERS.get(Fuzz.selector(data) % PARSERS.size());
        Message m;
        try {
            m = parser.parseFrom(x);
        } catch (InvalidProtocolBufferException e) {
            return;
        }
        byte[] canonical = m.toByteArray();
        Message again;
        try {
            again = parser.parseFrom(canonical);
        } catch (InvalidProtocolBufferException e) {
            throw new AssertionError("a parsed message encoded to bytes that do not parse", e);
        }
        Fuzz.check(again.equals(m), "parse(encode(m)) differs from m");
        Fuzz.check(Arrays.equals(canonical, again.toByteArray()), "the canonical encoding is not a fixed point");
    }
}
