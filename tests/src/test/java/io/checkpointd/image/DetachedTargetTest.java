package io.checkpointd.image;

import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/** An image test on processes it starts as {@link DetachedTargets}: skipped without root and CRIU, every one reaped. */
abstract class DetachedTargetTest {
    @TempDir
    Path tmp;

    DetachedTargets targets;

    @BeforeEach
    void rootCriuAndSubreaper() throws Exception {
        targets = DetachedTargets.create();
    }

    @AfterEach
    void killWhatWeStarted() throws Exception {
        if (targets != null) targets.close();
    }
}
