package io.checkpointd.restore;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;

/**
 * Named fault-injection points of the backup, for tests: production code consults them; by default they inject
 * nothing. A test in the same JVM sets them directly; a test driving a backup process sets the system property
 * {@value #HOLD_ACKS_FILE_PROPERTY} to a path, and acks are held while that file exists; likewise
 * {@value #DROP_PRIMARY_FRAMES_FILE_PROPERTY}: while that file exists, every frame from the primary is dropped
 * unread, as a partition between primary and backup would (the primary still reaches everything else);
 * {@value #ACK_UP_TO_FILE_PROPERTY}: while that file exists, only committed epochs up to the number it holds are
 * acknowledged (the others wait, in order, until it holds a larger number or is gone); and
 * {@value #ACK_WITHOUT_COMMIT_FILE_PROPERTY}: while that file exists, each epoch is acknowledged and thrown away
 * uncommitted — the planted loss that the durability checks must catch.
 */
public final class BackupFaults {
    public static final String HOLD_ACKS_FILE_PROPERTY = "checkpointd.fault.holdAcksFile";
    public static final String DROP_PRIMARY_FRAMES_FILE_PROPERTY = "checkpointd.fault.dropPrimaryFramesFile";
    public static final String ACK_WITHOUT_COMMIT_FILE_PROPERTY = "checkpointd.fault.ackWithoutCommitFile";
    public static final String ACK_UP_TO_FILE_PROPERTY = "checkpointd.fault.ackUpToFile";

    /** While true, committed epochs are not acknowledged (they are, in order, once it turns false). */
    public static volatile BooleanSupplier holdAcks = fromProperty(HOLD_ACKS_FILE_PROPERTY);

    /** While true, frames from the primary are dropped before anything sees them (not even the liveness stamp). */
    public static volatile BooleanSupplier dropPrimaryFrames = fromProperty(DROP_PRIMARY_FRAMES_FILE_PROPERTY);

    /** While true, epochs that begin are acknowledged at their end but never committed (a planted loss). */
    public static volatile BooleanSupplier ackWithoutCommit = fromProperty(ACK_WITHOUT_COMMIT_FILE_PROPERTY);

    /** The highest committed epoch that may be acknowledged now; later ones are held (in order) until it grows. */
    public static volatile LongSupplier ackUpTo = upToFromProperty(ACK_UP_TO_FILE_PROPERTY);

    private BackupFaults() {
    }

    private static BooleanSupplier fromProperty(String property) {
        String f = System.getProperty(property);
        if (f == null || f.isBlank()) return () -> false;
        Path p = Path.of(f);
        return () -> Files.exists(p);
    }

    /** No file: no limit. A file that does not hold a number (e.g. caught half-written) acknowledges nothing. */
    private static LongSupplier upToFromProperty(String property) {
        String f = System.getProperty(property);
        if (f == null || f.isBlank()) return () -> Long.MAX_VALUE;
        Path p = Path.of(f);
        return () -> {
            try {
                return Long.parseLong(Files.readString(p).trim());
            } catch (java.nio.file.NoSuchFileException e) {
                return Long.MAX_VALUE;
            } catch (java.io.IOException | NumberFormatException e) {
                return -1;
            }
        };
    }
}
