package io.checkpointd.e2e.hosts;

import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Base of the tests whose hosts are network namespaces: a directory of its own per test, kept when the test fails
 * (it holds the daemons' logs), and the requirements (root, CRIU, namespaces) as assumptions.
 */
abstract class HostTest {
    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    protected Path tmp;

    @BeforeEach
    void requirements() {
        HostChecks.assumeRootCriuAndNamespaces();
    }
}
