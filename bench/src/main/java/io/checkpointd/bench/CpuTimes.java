package io.checkpointd.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;

/** CPU time and run-queue wait of processes and of the machine, from {@code /proc}. */
final class CpuTimes {
    private CpuTimes() {
    }


    /** USER_HZ: the unit of /proc/PID/stat and /proc/stat times on Linux. */
    static final double TICKS = 100.0;

    /** {@link #processTicks} of each role's pid. */
    static Map<String, Long> cpuTicks(Map<String, Long> pids) {
        Map<String, Long> m = new LinkedHashMap<>();
        pids.forEach((role, pid) -> m.put(role, processTicks(pid)));
        return m;
    }

    /** {@link #runQueueWaitNanos} of each role's pid. */
    static Map<String, Long> waitNanos(Map<String, Long> pids) {
        Map<String, Long> m = new LinkedHashMap<>();
        pids.forEach((role, pid) -> m.put(role, runQueueWaitNanos(pid)));
        return m;
    }

    /** Sum over the live threads of {@code pid} of the time spent waiting on a run queue (schedstat field 2). */
    static long runQueueWaitNanos(long pid) {
        long sum = 0;
        try (Stream<Path> tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
            for (Path t : (Iterable<Path>) tasks::iterator) {
                try {
                    String[] f = Files.readString(t.resolve("schedstat")).trim().split("\\s+");
                    sum += Long.parseLong(f[1]);
                } catch (IOException | RuntimeException e) {
                    // thread gone
                }
            }
        } catch (IOException e) {
            return 0;
        }
        return sum;
    }

    /** utime + stime of every thread of {@code pid} (fields 14 and 15 of /proc/PID/stat). */
    static long processTicks(long pid) {
        try {
            String st = Files.readString(Path.of("/proc/" + pid + "/stat"));
            String[] f = st.substring(st.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(f[11]) + Long.parseLong(f[12]);
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /** Busy time of all CPUs (everything but idle and iowait) from /proc/stat. */
    static long machineBusyTicks() {
        try (Stream<String> lines = Files.lines(Path.of("/proc/stat"))) {
            String cpu = lines.filter(l -> l.startsWith("cpu ")).findFirst().orElseThrow();
            String[] f = cpu.trim().split("\\s+");
            long busy = 0;
            for (int i = 1; i < Math.min(f.length, 9); i++) if (i != 4 && i != 5) busy += Long.parseLong(f[i]);
            return busy;
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }
}
