package io.checkpointd.restore;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.BooleanSupplier;

/**
 * Named fault-injection points of the backup, for tests: production code consults them; by default they inject
 * nothing. A test in the same JVM sets them directly; a test driving a backup process sets the system property
 * {@value #HOLD_ACKS_FILE_PROPERTY} to a path, and acks are held while that file exists.
 */
public final class BackupFaults {
    public static final String HOLD_ACKS_FILE_PROPERTY = "checkpointd.fault.holdAcksFile";

    /** While true, committed epochs are not acknowledged (they are, in order, once it turns false). */
    public static volatile BooleanSupplier holdAcks = fromProperty();

    private BackupFaults() {
    }

    private static BooleanSupplier fromProperty() {
        String f = System.getProperty(HOLD_ACKS_FILE_PROPERTY);
        if (f == null || f.isBlank()) return () -> false;
        Path p = Path.of(f);
        return () -> Files.exists(p);
    }
}
