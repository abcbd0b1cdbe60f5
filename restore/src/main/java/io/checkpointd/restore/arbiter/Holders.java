package io.checkpointd.restore.arbiter;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** How a lease holder names itself: enough for an operator reading the other side's log to find it. */
public final class Holders {
    private Holders() {
    }

    /** e.g. {@code backup pid 4242 on host-b (127.0.0.1:7070)} */
    public static String describe(String role, String detail) {
        return role + " pid " + ProcessHandle.current().pid() + " on " + hostname() + (detail == null || detail.isEmpty() ? "" : " (" + detail + ")");
    }

    private static String hostname() {
        try {
            // the kernel's name, not a DNS lookup: naming ourselves must never block on a resolver
            return Files.readString(Path.of("/proc/sys/kernel/hostname")).trim();
        } catch (IOException e) {
            return "unknown host";
        }
    }
}
