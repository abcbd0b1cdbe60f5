package io.checkpointd.demo;

import io.checkpointd.protocol.status.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Reads the status files checkpointd's daemons publish in their run directory ({@code <role>-<pid>.json}) and waits
 * on what they report; shared by {@link Cluster} and the multi-host cluster.
 */
public final class StatusFiles {
    private static final Duration POLL = Duration.ofMillis(20);

    private StatusFiles() {
    }

    /** Where a daemon's latest status comes from. */
    @FunctionalInterface
    public interface Source {
        Optional<Json> read() throws IOException;
    }

    /** Why a daemon is gone, or null while it runs. */
    @FunctionalInterface
    public interface Death {
        String reason() throws IOException, InterruptedException;
    }

    /**
     * The latest status of a daemon of {@code role} ("primary", "backup", "proxy") in {@code runDir} (empty if the
     * directory does not exist): the most recently updated one, and with {@code preferLive} a live daemon's file
     * before the file a killed one left behind.
     */
    public static Optional<Json> newest(Path runDir, String role, boolean preferLive) throws IOException {
        if (!Files.isDirectory(runDir)) return Optional.empty();
        Json best = null;
        boolean bestAlive = false;
        long bestUpdated = Long.MIN_VALUE;
        try (Stream<Path> s = Files.list(runDir)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String n = p.getFileName().toString();
                if (!n.startsWith(role + "-") || !n.endsWith(".json")) continue;
                Json j;
                try {
                    j = (Json) Json.parse(Files.readString(p, StandardCharsets.UTF_8));
                } catch (IOException | RuntimeException e) {
                    continue; // being replaced
                }
                boolean alive = preferLive && isLive(j);
                long updated = j.get("updatedAt") instanceof Long u ? u : 0;
                if (best == null || (alive && !bestAlive) || (alive == bestAlive && updated > bestUpdated)) {
                    best = j;
                    bestAlive = alive;
                    bestUpdated = updated;
                }
            }
        }
        return Optional.ofNullable(best);
    }

    /** Whether the daemon that published {@code status} still runs (a process with its pid exists). */
    public static boolean isLive(Json status) {
        return status.get("pid") instanceof Long pid && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    /** The {@code failover} section of a backup's status, once it has one. */
    public static Optional<Json> failover(Optional<Json> backupStatus) {
        return backupStatus.map(s -> s.get("failover")).filter(f -> f instanceof Json).map(f -> (Json) f);
    }

    /**
     * Waits until the primary reports {@code epoch} (or later) acknowledged.
     *
     * @throws IOException if the protect daemon is gone first, or after {@code max}
     */
    public static void awaitAckedEpoch(Source primary, long epoch, Duration max, Death protect, Path logDir)
            throws IOException, InterruptedException {
        Await.until(max, POLL, () -> "no acknowledged epoch " + epoch + " within " + max + "; see " + logDir, () -> {
            Optional<Json> s = primary.read();
            if (s.isPresent() && s.get().get("lastAckedEpoch") instanceof Long l && l >= epoch) return Boolean.TRUE;
            String gone = protect.reason();
            if (gone != null) throw new IOException(gone);
            return null;
        });
    }

    /**
     * Waits until a backup reports its failover finished and returns its status.
     *
     * @param log the backup's log, named in the failure message
     * @throws IOException if the backup reports the failover failed, or after {@code max}
     */
    public static Json awaitFailover(Source backup, Duration max, Path log) throws IOException, InterruptedException {
        return Await.until(max, POLL, () -> "no failover within " + max + "; see " + log, () -> {
            Optional<Json> s = backup.read();
            if (s.isEmpty()) return null;
            Object state = s.get().get("state");
            if ("restored".equals(state)) return s.get();
            if ("failed".equals(state)) throw new IOException("failover failed: " + s.get().get("error") + "; see " + log);
            return null;
        });
    }
}
