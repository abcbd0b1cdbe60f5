package io.checkpointd.linux.proc;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Reads {@code /proc/PID/maps}, {@code /proc/PID/task} and {@code /proc/PID/status}. */
public final class ProcFs {
    private ProcFs() {
    }

    /** {@code /proc/PID}. */
    public static Path dir(int pid) {
        return Path.of("/proc", Integer.toString(pid));
    }

    /**
     * The process's memory map, in address order (unmodifiable). Read with plain system calls; parsed as bytes, and
     * not parsed again when the text is what this thread last read for this pid (the incremental engine reads it in
     * every pause, and a service's map rarely changes between epochs).
     */
    public static List<Vma> maps(int pid) throws IOException {
        byte[] text = ProcFiles.read("/proc/" + pid + "/maps");
        LastMaps last = LAST_MAPS.get();
        if (last != null && last.pid == pid && java.util.Arrays.equals(last.text, text)) return last.vmas;
        List<Vma> out = new ArrayList<>();
        for (int i = 0; i < text.length; ) {
            int eol = i;
            while (eol < text.length && text[eol] != '\n') eol++;
            if (eol > i) out.add(Vma.parse(text, i, eol));
            i = eol + 1;
        }
        List<Vma> vmas = java.util.Collections.unmodifiableList(out);
        LAST_MAPS.set(new LastMaps(pid, text, vmas));
        return vmas;
    }

    private record LastMaps(int pid, byte[] text, List<Vma> vmas) {
    }

    private static final ThreadLocal<LastMaps> LAST_MAPS = new ThreadLocal<>();

    /** The first VMA whose path is exactly {@code path}, e.g. {@code "[vdso]"}. */
    public static Optional<Vma> findVma(int pid, String path) throws IOException {
        return maps(pid).stream().filter(v -> v.path().equals(path)).findFirst();
    }

    /** Thread ids of the process (the main thread's tid is the pid), sorted. A snapshot: threads come and go. */
    public static List<Integer> threads(int pid) throws IOException {
        List<Integer> tids = ProcFiles.entries("/proc/" + pid + "/task");
        tids.sort(null);
        return tids;
    }

    /** All {@code Name:\tvalue} fields of {@code /proc/PID/status}, values trimmed, in file order. */
    public static Map<String, String> status(int pid) throws IOException {
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : new String(ProcFiles.read("/proc/" + pid + "/status"), java.nio.charset.StandardCharsets.UTF_8).split("\n")) {
            int c = line.indexOf(':');
            if (c > 0) m.put(line.substring(0, c), line.substring(c + 1).trim());
        }
        return m;
    }

    /** One status field, e.g. {@code statusField(pid, "State")} gives {@code "S (sleeping)"}. */
    public static Optional<String> statusField(int pid, String name) throws IOException {
        return Optional.ofNullable(status(pid).get(name));
    }

    /** The state letter of {@code /proc/PID/status} ({@code R S D T t Z X ...}). */
    public static char state(int pid) throws IOException {
        return statusField(pid, "State").orElseThrow(() -> new IOException("no State in /proc/" + pid + "/status")).charAt(0);
    }

    /** Whether thread or process {@code tid} has exited and waits to be reaped (state Z or X), or is gone already. */
    public static boolean isZombie(int tid) {
        try {
            char s = state(tid);
            return s == 'Z' || s == 'X';
        } catch (IOException e) {
            return true; // gone meanwhile
        }
    }

    /** Whether {@code /proc/PID} exists (the process exists or is a zombie). */
    public static boolean exists(int pid) {
        return Files.isDirectory(dir(pid));
    }
}
