package io.checkpointd.restore.failover;

import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Re-protection after a failover: the restored service becomes the primary of the new generation, protected by
 * {@code checkpointd protect} toward a spare backup, starting with a full sync and then incremental epochs. The
 * proxy stays in hold mode for the new generation, so the restored service's output is released only once the
 * spare has its first epoch: it is never unprotected unless re-protection fails.
 *
 * <p>The new primary runs as its own process (the same command a person would run), so it outlives this backup
 * daemon, and it is fenced, stopped and restarted like any other primary.
 */
public final class Reprotector {
    /** Main class of the CLI, by name: the backup module does not depend on it, the run-time class path has it. */
    static final String CLI_MAIN = "io.checkpointd.cli.Main";

    /**
     * @param spare     the spare backup's replication address
     * @param epoch     epoch interval of the new primary
     * @param extraArgs further {@code protect} options: the authentication option and its file, the run dir
     * @param log       where the new primary's output goes
     */
    public record Config(InetSocketAddress spare, Duration epoch, List<String> extraArgs, Path log) {
        public Config {
            Objects.requireNonNull(spare, "spare");
            Objects.requireNonNull(epoch, "epoch");
            extraArgs = List.copyOf(extraArgs);
        }
    }

    private final Config cfg;

    public Reprotector(Config cfg) {
        this.cfg = cfg;
    }

    public Config config() {
        return cfg;
    }

    /** Starts {@code protect} for the restored {@code pid} as generation {@code generation}. */
    public Process start(int pid, long generation, InetSocketAddress proxyControl, InetSocketAddress service) throws IOException {
        return start(pid, generation, proxyControl, service, List.of());
    }

    /** As {@link #start(int, long, InetSocketAddress, InetSocketAddress)}, protecting {@code dataDirs} too. */
    public Process start(int pid, long generation, InetSocketAddress proxyControl, InetSocketAddress service,
                         java.util.Collection<String> dataDirs) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:+UseSerialGC", "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                CLI_MAIN, "protect", Integer.toString(pid), "--backup", hostPort(cfg.spare()),
                "--generation", Long.toString(generation), "--epoch", cfg.epoch().toMillis() + "ms"));
        if (proxyControl != null) cmd.addAll(List.of("--proxy-control", hostPort(proxyControl)));
        if (service != null) cmd.addAll(List.of("--service", hostPort(service)));
        for (String d : dataDirs) cmd.addAll(List.of("--data-dir", d));
        cmd.addAll(cfg.extraArgs());
        return new ProcessBuilder(cmd).redirectInput(new File("/dev/null"))
                .redirectOutput(ProcessBuilder.Redirect.appendTo(cfg.log().toFile())).redirectErrorStream(true).start();
    }

    static String hostPort(InetSocketAddress a) {
        return a.getAddress().getHostAddress() + ":" + a.getPort();
    }
}
