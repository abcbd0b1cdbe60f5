package io.checkpointd.demo;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/** The command line of a standalone {@link KvServer} (see {@link KvServer#main}). */
final class KvServerCli {
    private KvServerCli() {
    }

    static void run(String[] args) {
        String host = "127.0.0.1";
        Integer port = null;
        int workers = KvServer.DEFAULT_WORKERS;
        Path portFile = null;
        boolean churn = false;
        int ballastMb = 0;
        double ballastRate = 6.4;
        try {
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                switch (a) {
                    case "--host" -> host = value(args, ++i, a);
                    case "--port" -> port = Integer.parseInt(value(args, ++i, a));
                    case "--workers" -> workers = Integer.parseInt(value(args, ++i, a));
                    case "--port-file" -> portFile = Path.of(value(args, ++i, a));
                    case "--churn" -> churn = true; // memory and thread churn for the incremental engine's oracle
                    case "--ballast" -> ballastMb = Integer.parseInt(value(args, ++i, a)); // MiB of live heap (large-JVM bench)
                    case "--ballast-rate" -> ballastRate = Double.parseDouble(value(args, ++i, a)); // MB/s of it rewritten
                    case "-h", "--help" -> {
                        usage(System.out);
                        return;
                    }
                    default -> throw new IllegalArgumentException("unknown argument: " + a);
                }
            }
            if (ballastMb < 0) throw new IllegalArgumentException("--ballast needs MiB >= 0");
            if (!(ballastRate > 0)) throw new IllegalArgumentException("--ballast-rate needs MB/s > 0");
            if (port == null) {
                throw new IllegalArgumentException("--port is required");
            }
            new KvServer.Config(host, port, workers, new KvStore()); // validate before binding
        } catch (IllegalArgumentException e) {
            System.err.println("KvServer: " + e.getMessage());
            usage(System.err);
            System.exit(2);
            return;
        }
        KvServer server;
        try {
            server = KvServer.start(new KvServer.Config(host, port, workers, new KvStore()));
            if (churn) Churn.start();
            Ballast.start(ballastMb, ballastRate);
            if (portFile != null) {
                PortFile.write(portFile, server.port());
            }
        } catch (IOException | UncheckedIOException e) {
            System.err.println("KvServer: " + e);
            System.exit(1);
            return;
        }
        try {
            server.awaitTermination();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String value(String[] args, int i, String flag) {
        if (i >= args.length) {
            throw new IllegalArgumentException(flag + " needs a value");
        }
        return args[i];
    }

    private static void usage(PrintStream out) {
        out.println("usage: KvServer --port P [--host H] [--workers N] [--port-file F] [--churn] [--ballast MIB [--ballast-rate MB/S]]");
    }
}
