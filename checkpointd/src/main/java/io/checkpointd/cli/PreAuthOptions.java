package io.checkpointd.cli;

import io.checkpointd.protocol.auth.PreAuthLimits;
import java.time.Duration;
import picocli.CommandLine.Option;

/**
 * The bounds on an authenticated listener's connections that have not authenticated yet (a picocli mixin of
 * {@code backup} and {@code proxy}, the daemons with such a listener). Bad values stop the daemon with one line
 * naming the option, exit 2.
 */
final class PreAuthOptions {
    @Option(names = "--pre-auth-timeout", paramLabel = "DURATION", defaultValue = "10s", converter = Converters.PositiveDuration.class,
            description = "close a connection that has not authenticated (TLS handshake or shared-key AUTH) within this; "
                    + PreAuthLimits.MIN_DEADLINE_MS + "ms to " + PreAuthLimits.MAX_DEADLINE_S + "s (default: ${DEFAULT-VALUE})")
    Duration timeout;

    @Option(names = "--pre-auth-max", paramLabel = "N", defaultValue = "64",
            description = "connections authenticating at once on the listener; one more closes the oldest (default: ${DEFAULT-VALUE})")
    int maxPending;

    @Option(names = "--pre-auth-max-per-source", paramLabel = "N", defaultValue = "8",
            description = "connections authenticating at once from one address; one more is closed at once; at most "
                    + "--pre-auth-max (default: ${DEFAULT-VALUE})")
    int maxPerSource;

    /** The bounds, checked. @throws UsageException naming the option out of range */
    PreAuthLimits limits() {
        if (timeout.compareTo(PreAuthLimits.MIN_DEADLINE) < 0 || timeout.compareTo(PreAuthLimits.MAX_DEADLINE) > 0) {
            throw new UsageException("--pre-auth-timeout must be between " + PreAuthLimits.MIN_DEADLINE_MS + "ms and "
                    + PreAuthLimits.MAX_DEADLINE_S + "s, not " + timeout.toMillis() + "ms");
        }
        if (maxPending < 1 || maxPending > PreAuthLimits.MAX_CONNECTIONS) {
            throw new UsageException("--pre-auth-max must be between 1 and " + PreAuthLimits.MAX_CONNECTIONS + ", not " + maxPending);
        }
        if (maxPerSource < 1 || maxPerSource > maxPending) {
            throw new UsageException("--pre-auth-max-per-source must be between 1 and --pre-auth-max (" + maxPending + "), not " + maxPerSource);
        }
        return new PreAuthLimits(timeout, maxPending, maxPerSource);
    }
}
