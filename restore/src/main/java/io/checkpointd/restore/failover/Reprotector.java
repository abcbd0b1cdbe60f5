package io.checkpointd.restore.failover;

import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Re-protection after a failover: the restored service becomes the primary of the new generation, protected by
 * {@code checkpointd protect} toward a spare backup, starting with a full sync and then incremental epochs. The
 * proxy stays in hold mode for the new generation, so the restored service's output is released only once the
 * spare has its first epoch: it is never unprotected unless re-protection fails.
 *
 * <p>It protects the way the old primary did: the options the old primary's Hello carries over ({@link #carried}:
 * {@code --hold packets}, {@code --on-backup-loss continue}) are passed on; with the packet hold there is no
 * {@code --proxy-control} (the hold releases the output itself).
 *
 * <p>The new primary runs as its own process (the same command a person would run), so it outlives this backup
 * daemon, and it is fenced, stopped and restarted like any other primary.
 */
public final class Reprotector {
    /** Main class of the CLI, by name: the backup module does not depend on it, the run-time class path has it. */
    static final String CLI_MAIN = "io.checkpointd.cli.Main";
    /** The {@code protect} options a primary's Hello may carry over, with the values each may take. */
    static final Map<String, Set<String>> CARRIED = Map.of("--hold", Set.of("proxy", "packets"),
            "--on-backup-loss", Set.of("stall", "continue"));
    private static final Logger log = LoggerFactory.getLogger(Reprotector.class);

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
        return start(pid, generation, proxyControl, service, dataDirs, List.of());
    }

    /**
     * The options of a Hello's {@code protectOptions} that a re-protecting primary takes over: pairs of an option of
     * {@link #CARRIED} and one of its values. Anything else is left out, with a warning (a newer primary's option
     * this backup does not know, or a malformed Hello).
     */
    public static List<String> carried(String protectOptions) {
        String[] t = protectOptions == null || protectOptions.isBlank() ? new String[0] : protectOptions.strip().split("\\s+");
        List<String> out = new ArrayList<>();
        for (int i = 0; i < t.length; i += 2) {
            String value = i + 1 < t.length ? t[i + 1] : "";
            if (CARRIED.getOrDefault(t[i], Set.of()).contains(value)) {
                out.add(t[i]);
                out.add(value);
            } else {
                log.warn("re-protection: not carrying over the primary's option {} {}", t[i], value);
            }
        }
        return out;
    }

    /**
     * As {@link #start(int, long, InetSocketAddress, InetSocketAddress, java.util.Collection)}, with the old primary's
     * options {@code carried} (from {@link #carried}).
     */
    public Process start(int pid, long generation, InetSocketAddress proxyControl, InetSocketAddress service,
                         java.util.Collection<String> dataDirs, List<String> carried) throws IOException {
        boolean packets = java.util.Collections.indexOfSubList(carried, List.of("--hold", "packets")) >= 0;
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:+UseSerialGC", "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                CLI_MAIN, "protect", Integer.toString(pid), "--backup", hostPort(cfg.spare()),
                "--generation", Long.toString(generation), "--epoch", cfg.epoch().toMillis() + "ms"));
        if (proxyControl != null && !packets) cmd.addAll(List.of("--proxy-control", hostPort(proxyControl)));
        if (service != null) cmd.addAll(List.of("--service", hostPort(service)));
        for (String d : dataDirs) cmd.addAll(List.of("--data-dir", d));
        cmd.addAll(carried);
        cmd.addAll(cfg.extraArgs());
        return new ProcessBuilder(cmd).redirectInput(new File("/dev/null"))
                .redirectOutput(ProcessBuilder.Redirect.appendTo(cfg.log().toFile())).redirectErrorStream(true).start();
    }

    static String hostPort(InetSocketAddress a) {
        return a.getAddress().getHostAddress() + ":" + a.getPort();
    }
}
