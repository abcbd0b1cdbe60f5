package io.checkpointd.e2e;

import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Base of the end-to-end tests: a directory of its own per test, kept when the test fails (it holds the daemons'
 * logs), and the requirements, root and CRIU, as assumptions: a laptop without them skips; CI has both, so there
 * they run.
 */
public abstract class E2eTest {
    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    protected Path tmp;

    @BeforeEach
    void requireRootAndCriu() {
        E2eSupport.assumeRootAndCriu();
    }
}
