package io.checkpointd.primary.engine.patch;

import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.Syscalls;
import io.checkpointd.protocol.image.ImageFile;
import io.checkpointd.protocol.image.criu.Timens.timens_entry;
import io.checkpointd.protocol.image.criu.Timens.timespec;
import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * {@code timens-<id>.img} (images/timens.proto, MIT): the monotonic and boot-time clocks at the capture, which CRIU's
 * {@code dump_time_ns()} reads with {@code clock_gettime} while it dumps and its restore makes the restored process's
 * clocks continue from (a new time namespace, offset by what they read then). An incremental epoch must carry its
 * own instant: with the base dump's, a process restored from an epoch taken long after the base would see its
 * monotonic clock step back by that long, and every absolute timed wait it had begun (a JVM's {@code Thread.sleep},
 * {@code LockSupport.parkNanos}) would last that much longer.
 */
public final class TimensPatch {
    /** {@code TIMENS_MAGIC} (criu/include/magic.h). */
    public static final int TIMENS_MAGIC = 0x43114433;
    private static final long NS = 1_000_000_000L;

    private TimensPatch() {
    }

    /**
     * Sets every {@code timens-*.img} of {@code files} to the clocks at {@code monotonicNanos} (a
     * {@code System.nanoTime()}, which is CLOCK_MONOTONIC on Linux, taken in the pause); boot time is that plus the
     * time the machine spent suspended, read now.
     */
    public static void patch(Map<String, byte[]> files, long monotonicNanos) throws IOException {
        long boot = monotonicNanos + suspendedNanos();
        for (var e : files.entrySet()) {
            if (!e.getKey().startsWith("timens-") || !e.getKey().endsWith(".img")) continue;
            ImageFile f = ImageFile.parse(e.getValue(), TIMENS_MAGIC);
            if (f.entryCount() != 1) throw new IOException(e.getKey() + " with " + f.entryCount() + " entries, expected 1");
            timens_entry m = f.message(0, timens_entry.parser()).toBuilder()
                    .setMonotonic(timespec(monotonicNanos)).setBoottime(timespec(boot)).build();
            e.setValue(f.withMessages(List.of(m)).encode());
        }
    }

    private static timespec timespec(long nanos) {
        return timespec.newBuilder().setTvSec(nanos / NS).setTvNsec(nanos % NS).build();
    }

    private static long suspendedNanos() throws SyscallException {
        long m = Syscalls.clockGettimeNanos(Syscalls.CLOCK_MONOTONIC);
        long b = Syscalls.clockGettimeNanos(Syscalls.CLOCK_BOOTTIME);
        return Math.max(0, b - m);
    }
}
