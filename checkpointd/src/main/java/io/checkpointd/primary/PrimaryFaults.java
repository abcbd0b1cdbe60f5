package io.checkpointd.primary;

import io.checkpointd.linux.Syscalls;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Named fault-injection points of the primary, for tests; by default they do nothing.
 *
 * <p>{@value #ORACLE_DIR_PROPERTY} names a directory: once a file {@code request} appears in it, the next
 * incremental epoch also writes the process as it was at that capture into {@code truth/} (see the engine's oracle
 * snapshot), ships the epoch, writes its number into {@code epoch}, and protection then idles, so the backup's
 * committed image stays that epoch's for the memory oracle test to compare.
 *
 * <p>{@value #KILL_AT_PROPERTY} is {@code POINT:FILE}: once {@code FILE} exists, the next time the primary reaches
 * {@code POINT} (a {@link KillPoint}) it SIGKILLs the protected process and then itself, as a host failure at that
 * instant of the epoch would. Before dying it writes the epoch it was in to {@code FILE.epoch}.
 */
public final class PrimaryFaults {
    public static final String ORACLE_DIR_PROPERTY = "checkpointd.fault.oracleDir";
    public static final String KILL_AT_PROPERTY = "checkpointd.fault.killAt";

    /** Where in an epoch the primary can be killed. */
    public enum KillPoint {
        /** Inside the pause: every thread of the process stopped, the epoch sealed at the proxy. */
        PAUSE,
        /** During the ship: EPOCH_BEGIN and at least one record sent, EPOCH_END not. */
        MID_SHIP,
        /** After EPOCH_END was sent, before the backup's ACK came back. */
        BEFORE_ACK,
        /** Right after the ACK: the epoch's output released at the proxy. */
        AFTER_ACK;

        /** The property's spelling: {@code pause}, {@code mid-ship}, {@code before-ack}, {@code after-ack}. */
        public String spelling() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }
    }

    private static final KillPoint KILL_POINT;
    private static final Path KILL_ARM;

    static {
        String v = System.getProperty(KILL_AT_PROPERTY);
        KillPoint point = null;
        Path arm = null;
        if (v != null && !v.isBlank()) {
            int c = v.indexOf(':');
            if (c < 0) throw new IllegalArgumentException(KILL_AT_PROPERTY + " must be POINT:FILE, got " + v);
            point = KillPoint.valueOf(v.substring(0, c).toUpperCase(Locale.ROOT).replace('-', '_'));
            arm = Path.of(v.substring(c + 1));
        }
        KILL_POINT = point;
        KILL_ARM = arm;
    }

    private PrimaryFaults() {
    }

    static Path oracleDir() {
        String d = System.getProperty(ORACLE_DIR_PROPERTY);
        return d == null || d.isBlank() ? null : Path.of(d);
    }

    /** Whether {@code point} is the configured kill point and its file exists. */
    static boolean armed(KillPoint point) {
        return point == KILL_POINT && Files.exists(KILL_ARM);
    }

    /**
     * The kill point {@code point} is reached in epoch {@code epoch}: if it is the configured one and armed, the
     * process {@code servicePid} and this JVM die here by SIGKILL; otherwise nothing happens.
     */
    static void reached(KillPoint point, long epoch, int servicePid) {
        if (!armed(point)) return;
        try {
            Files.writeString(Path.of(KILL_ARM + ".epoch"), point.spelling() + " " + epoch);
            Syscalls.kill(servicePid, Syscalls.SIGKILL);
            Syscalls.kill((int) ProcessHandle.current().pid(), Syscalls.SIGKILL);
        } catch (java.io.IOException e) {
            Runtime.getRuntime().halt(137);
        }
        Runtime.getRuntime().halt(137); // SIGKILL is delivered before kill(2) returns to us; never reached
    }
}
