package io.checkpointd.demo;

import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * Command-line load generator: {@code java -cp tests.jar io.checkpointd.demo.KvLoad --target H:P
 * [--threads N] [--seconds S] [--warmup S] [--ops N] [--verify]}. Prints one
 * {@link LoadGenerator.Report#summaryLine() summary line} to stdout; exit status 1 if verification
 * was asked for and failed, 2 on bad arguments.
 */
public final class KvLoad {
    private KvLoad() {}

    /** Entry point; see the class comment. */
    public static void main(String[] args) throws InterruptedException {
        int status;
        try {
            status = run(args);
        } catch (IllegalArgumentException e) {
            System.err.println("KvLoad: " + e.getMessage());
            System.err.println("usage: KvLoad --target H:P [--threads N] [--seconds S] [--warmup S] [--ops N]"
                    + " [--verify]");
            status = 2;
        }
        System.exit(status);
    }

    /** Parses {@code args}, runs, prints the summary line; returns the exit status. */
    static int run(String[] args) throws InterruptedException {
        InetSocketAddress target = null;
        int threads = 4;
        Double seconds = null;
        double warmup = 0;
        long ops = 0;
        boolean verify = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--target" -> target = parseTarget(value(args, ++i, a));
                case "--threads" -> threads = Integer.parseInt(value(args, ++i, a));
                case "--seconds" -> seconds = Double.parseDouble(value(args, ++i, a));
                case "--warmup" -> warmup = Double.parseDouble(value(args, ++i, a));
                case "--ops" -> ops = Long.parseLong(value(args, ++i, a));
                case "--verify" -> verify = true;
                default -> throw new IllegalArgumentException("unknown argument: " + a);
            }
        }
        if (target == null) {
            throw new IllegalArgumentException("--target is required");
        }
        if (seconds == null && ops == 0) {
            seconds = 10.0;
        }
        KvWorkload.Config cfg = KvWorkload.Config.of(target).withThreads(threads);
        LoadGenerator.Options opt = new LoadGenerator.Options(seconds(warmup),
                seconds == null ? null : seconds(seconds), ops, verify);
        LoadGenerator.Report r = LoadGenerator.run(cfg, opt);
        System.out.println("target=" + target.getHostString() + ":" + target.getPort() + " threads=" + threads + " "
                + r.summaryLine());
        return r.verification() != null && !r.verification().ok() ? 1 : 0;
    }

    private static Duration seconds(double s) {
        return Duration.ofNanos((long) (s * 1e9));
    }

    /** Parses {@code host:port} (last colon separates, so {@code [::1]:80} style hosts work). */
    static InetSocketAddress parseTarget(String s) {
        int c = s.lastIndexOf(':');
        if (c <= 0 || c == s.length() - 1) {
            throw new IllegalArgumentException("target must be host:port: " + s);
        }
        String host = s.substring(0, c);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        return new InetSocketAddress(host, Integer.parseInt(s.substring(c + 1)));
    }

    private static String value(String[] args, int i, String flag) {
        if (i >= args.length) {
            throw new IllegalArgumentException(flag + " needs a value");
        }
        return args[i];
    }
}
