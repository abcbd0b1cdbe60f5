package io.checkpointd.primary;

import java.nio.file.Path;

/**
 * Named fault-injection points of the primary, for tests; by default they do nothing. The system property
 * {@value #ORACLE_DIR_PROPERTY} names a directory: once a file {@code request} appears in it, the next incremental
 * epoch also writes the process as it was at that capture into {@code truth/} (see the engine's oracle snapshot),
 * ships the epoch, writes its number into {@code epoch}, and protection then idles, so the backup's committed
 * image stays that epoch's for the memory oracle test to compare.
 */
public final class PrimaryFaults {
    public static final String ORACLE_DIR_PROPERTY = "checkpointd.fault.oracleDir";

    private PrimaryFaults() {
    }

    static Path oracleDir() {
        String d = System.getProperty(ORACLE_DIR_PROPERTY);
        return d == null || d.isBlank() ? null : Path.of(d);
    }
}
