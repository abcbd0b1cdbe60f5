package io.checkpointd.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code checkpointd}: the command-line entry point. Mistakes in the input get one line on stderr naming the
 * problem and the fix, and exit code {@value #EXIT_USAGE}; a failure at run time gets one line and exit code
 * {@value #EXIT_FAILURE}; never a stack trace.
 */
@Command(name = "checkpointd", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Remus-style high availability for an unmodified JVM process: epochs of checkpoints shipped "
                + "to a backup, output released only once the backup has them, failover by CRIU restore.",
        subcommands = {ProtectCommand.class, BackupCommand.class, ProxyCommand.class, CheckCommand.class, CertsCommand.class, ProxyKeyCommand.class,
                StatusCommand.class, DemoCommand.class, CommandLine.HelpCommand.class})
public final class Main {
    public static final int EXIT_OK = 0, EXIT_FAILURE = 1, EXIT_USAGE = 2;

    private Main() {
    }

    public static void main(String[] args) {
        Logging.configure();
        System.exit(run(args));
    }

    /** Runs the CLI with the process's stdout/stderr; returns the exit code (tests call this). */
    public static int run(String... args) {
        return commandLine().execute(args);
    }

    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(Main.class);
        cl.setParameterExceptionHandler((ex, args) -> {
            CommandLine c = ex.getCommandLine();
            c.getErr().println("checkpointd: " + ex.getMessage() + " (see 'checkpointd "
                    + (c.getCommandName().equals("checkpointd") ? "" : c.getCommandName() + " ") + "--help')");
            c.getErr().flush();
            return EXIT_USAGE;
        });
        cl.setExecutionExceptionHandler((ex, c, parseResult) -> {
            if (ex instanceof UsageException u) {
                c.getErr().println("checkpointd: " + u.getMessage());
                c.getErr().flush();
                return EXIT_USAGE;
            }
            String msg = ex.getMessage() == null ? ex.getClass().getSimpleName() : ex.getMessage();
            c.getErr().println("checkpointd " + c.getCommandName() + ": " + msg.lines().findFirst().orElse(msg));
            c.getErr().flush();
            return EXIT_FAILURE;
        });
        return cl;
    }

    /** The version and commit of this build ({@link BuildInfo}). */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {BuildInfo.current().describe()};
        }
    }
}
