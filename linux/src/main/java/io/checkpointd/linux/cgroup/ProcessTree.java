package io.checkpointd.linux.cgroup;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** A process and its descendants, from {@code /proc/PID/task/TID/children}. */
final class ProcessTree {
    private ProcessTree() {
    }

    /** {@code root} first, then its descendants (breadth first); processes that exit meanwhile are skipped. */
    static List<Integer> of(int root) throws IOException {
        List<Integer> all = new ArrayList<>(List.of(root));
        for (int i = 0; i < all.size(); i++) {
            Path tasks = Path.of("/proc/" + all.get(i) + "/task");
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(tasks)) {
                for (Path t : ds) {
                    String children;
                    try {
                        children = Files.readString(t.resolve("children")).trim();
                    } catch (NoSuchFileException e) {
                        continue;
                    }
                    if (children.isEmpty()) continue;
                    for (String c : children.split("\\s+")) {
                        int pid = Integer.parseInt(c);
                        if (!all.contains(pid)) all.add(pid);
                    }
                }
            } catch (NoSuchFileException e) {
                if (i == 0) throw e;
            }
        }
        return all;
    }
}
