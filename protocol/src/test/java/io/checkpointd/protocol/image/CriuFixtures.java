package io.checkpointd.protocol.image;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;

/**
 * Image files CRIU 4.2.1 dumped (leave-running) on an AMD EPYC (XCR0 0x207: x87, SSE, AVX, PKU; NT_X86_XSTATE
 * 2440 bytes): {@code sleep/} a single-threaded {@code sleep}, {@code python/} a python3 with a second thread
 * (core-3195.img is that non-leader thread).
 */
final class CriuFixtures {
    static final List<String> CORES = List.of("sleep/core-968.img", "python/core-3145.img", "python/core-3195.img");
    static final List<String> MMS = List.of("sleep/mm-968.img", "python/mm-3145.img");
    static final List<String> PAGEMAPS = List.of("sleep/pagemap-968.img", "python/pagemap-3145.img");

    /** The XSAVE layout of the machine the fixtures were dumped on. */
    static final XsaveLayout EPYC = XsaveLayout.infer(0x207, 2440);

    private CriuFixtures() {
    }

    static byte[] read(String name) throws IOException {
        try (InputStream in = CriuFixtures.class.getResourceAsStream(name)) {
            if (in == null) throw new IOException("missing fixture " + name);
            return in.readAllBytes();
        }
    }
}
