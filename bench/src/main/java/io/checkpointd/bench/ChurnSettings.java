package io.checkpointd.bench;

import java.nio.file.Path;
import java.util.Locale;

/**
 * The options of the connection-churn benchmarks ({@link ChurnBenchmark}, {@link ServerChurnBenchmark}): measured and
 * warm-up seconds, the epoch, the clients, and the doc the results go to ({@code --no-doc}: none).
 */
record ChurnSettings(int seconds, int warmup, int epochMs, int clients, Path doc) {
    /** Parses {@code args} over the defaults {@code seconds} and {@code warmup}; epoch 25 ms and 4 clients by default. */
    static ChurnSettings parse(String[] args, int seconds, int warmup) {
        int epoch = 25, clients = 4;
        Path doc = Path.of(System.getProperty("checkpointd.root", ".")).resolve("docs").resolve("benchmarks.md");
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--no-doc")) {
                doc = null;
                continue;
            }
            if (i + 1 >= args.length) throw new IllegalArgumentException("missing value for " + a);
            String v = args[++i];
            switch (a) {
                case "--seconds" -> seconds = Integer.parseInt(v);
                case "--warmup" -> warmup = Integer.parseInt(v);
                case "--epoch" -> epoch = Integer.parseInt(v.replace("ms", ""));
                case "--clients" -> clients = Integer.parseInt(v);
                case "--doc" -> doc = Path.of(v);
                default -> throw new IllegalArgumentException("unknown option " + a);
            }
        }
        if (seconds < 1 || warmup < 0 || epoch < 1 || clients < 1) throw new IllegalArgumentException("bad settings");
        return new ChurnSettings(seconds, warmup, epoch, clients, doc);
    }

    /** The command line that reproduces a run with these settings through {@code script}. */
    String commandLine(String script) {
        return String.format(Locale.ROOT, "%s --seconds %d --warmup %d --epoch %d --clients %d", script, seconds, warmup, epochMs, clients);
    }
}
