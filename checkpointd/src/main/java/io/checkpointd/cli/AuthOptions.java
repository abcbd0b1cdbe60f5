package io.checkpointd.cli;

import io.checkpointd.protocol.auth.ChannelKey;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Option;

/**
 * {@code --auth-key FILE} / {@code --insecure-plaintext}, shared by protect, backup and proxy. One of them is
 * required: an unauthenticated channel lets anyone who reaches the port release held output or feed the backup,
 * so plain text must be asked for by name.
 */
final class AuthOptions {
    private static final Logger log = LoggerFactory.getLogger(AuthOptions.class);

    @Option(names = "--auth-key", paramLabel = "FILE",
            description = "file with the key (>= 32 random bytes, mode 600) shared by protect, backup and proxy; "
                    + "authenticates every replication and control frame. Create one with: " + ChannelKey.HOW_TO_CREATE)
    Path keyFile;

    @Option(names = "--insecure-plaintext",
            description = "run the replication and control channels unauthenticated: anyone who can reach the ports "
                    + "can drive them. For local demos only")
    boolean insecurePlaintext;

    /** Logs the warning plain text deserves; call once the input is known good and the daemon starts. */
    void warnIfInsecure() {
        if (insecurePlaintext) {
            log.warn("--insecure-plaintext: replication and control channels are NOT authenticated; anyone who can reach "
                    + "their ports can release held output or feed the backup");
        }
    }

    /** The same choice as command-line arguments, for a daemon this one starts (re-protection). */
    java.util.List<String> asArgs() {
        return insecurePlaintext ? java.util.List.of("--insecure-plaintext")
                : java.util.List.of("--auth-key", keyFile.toAbsolutePath().toString());
    }

    /** The key to use; a {@link UsageException} (exit 2) for none, both, or a bad key file. */
    ChannelKey channelKey() {
        if (keyFile != null && insecurePlaintext) throw new UsageException("give --auth-key or --insecure-plaintext, not both");
        if (keyFile == null && !insecurePlaintext) {
            throw new UsageException("the channels must be authenticated: pass --auth-key FILE with the key shared by protect, "
                    + "backup and proxy (create one with: " + ChannelKey.HOW_TO_CREATE + "), or --insecure-plaintext for a local demo");
        }
        if (insecurePlaintext) return ChannelKey.insecurePlaintext();
        try {
            return ChannelKey.load(keyFile);
        } catch (ChannelKey.KeyFileException e) {
            throw new UsageException(e.getMessage());
        }
    }
}
