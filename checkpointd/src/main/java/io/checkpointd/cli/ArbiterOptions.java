package io.checkpointd.cli;

import io.checkpointd.arbiter.ArbiterAddress;
import io.checkpointd.arbiter.ZkArbiter;
import java.time.Duration;
import picocli.CommandLine.Option;

/**
 * {@code --arbiter zk://HOST:PORT[,HOST:PORT]/BASE}, {@code --service-id NAME} and
 * {@code --arbiter-session-timeout}, shared by protect and backup. Without {@code --arbiter} the backup decides
 * from heartbeats alone (one machine, the default); with it, both sides must name the same service.
 */
final class ArbiterOptions {
    @Option(names = "--arbiter", paramLabel = "zk://HOST:PORT[,HOST:PORT]/BASE",
            description = "a ZooKeeper ensemble that decides who may act for the service: the backup fails over only "
                    + "once it holds the service's lease; generations come from its counter (default: none, heartbeats decide)")
    String arbiter;

    @Option(names = "--service-id", paramLabel = "NAME",
            description = "the protected service's name at the arbiter; protect and backup must use the same one")
    String serviceId;

    @Option(names = "--arbiter-session-timeout", paramLabel = "DURATION", defaultValue = "5s", converter = Converters.PositiveDuration.class,
            description = "how long ZooKeeper keeps the lease of a holder it no longer hears from (default: ${DEFAULT-VALUE}; "
                    + "the server bounds it to 2-20 ticks)")
    Duration sessionTimeout;

    boolean enabled() {
        return arbiter != null;
    }

    /** Checks the options go together and parse; a {@link UsageException} (exit 2) otherwise. */
    ArbiterAddress address() {
        if (arbiter == null) {
            if (serviceId != null) throw new UsageException("--service-id names the service at an arbiter: give --arbiter too");
            return null;
        }
        if (serviceId == null) throw new UsageException("--arbiter needs --service-id NAME (the same on protect and backup)");
        try {
            ArbiterAddress.checkServiceId(serviceId);
            return ArbiterAddress.parse(arbiter);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
    }

    /** Starts the client (it connects in the background); call after {@link #address()}. */
    ZkArbiter start(ArbiterAddress address) {
        return ZkArbiter.start(address, serviceId, sessionTimeout);
    }
}
