package io.checkpointd.cli;

import io.checkpointd.demo.Demo;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code checkpointd demo}: protect a demo key-value service, kill the primary under load, show the failover and
 * verify every acknowledged write. The demo itself ({@link Demo}) lives with the demo service in the demo module.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Start a demo key-value service, a proxy, a backup and 'protect'; run clients through the proxy; "
                + "SIGKILL the primary; show the failover; verify every acknowledged write survived.")
public final class DemoCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--epoch", paramLabel = "DURATION", defaultValue = "25ms", converter = Converters.PositiveDuration.class,
            description = "epoch interval (default: ${DEFAULT-VALUE})")
    java.time.Duration epoch;

    @Option(names = "--load-seconds", defaultValue = "8", description = "seconds of client load before the kill (default: ${DEFAULT-VALUE})")
    int loadSeconds;

    @Option(names = "--clients", defaultValue = "4", description = "concurrent clients (default: ${DEFAULT-VALUE})")
    int clients;

    @Override
    public Integer call() throws Exception {
        if (loadSeconds < 1 || loadSeconds > 600) throw new UsageException("--load-seconds must be between 1 and 600");
        if (clients < 1 || clients > 256) throw new UsageException("--clients must be between 1 and 256");
        Preconditions.requirePrivileges("checkpointd demo");
        List<String> args = List.of("--epoch", epoch.toMillis() + "ms", "--load-seconds", Integer.toString(loadSeconds),
                "--clients", Integer.toString(clients));
        return Demo.run(spec.commandLine().getOut(), args.toArray(new String[0]));
    }
}
