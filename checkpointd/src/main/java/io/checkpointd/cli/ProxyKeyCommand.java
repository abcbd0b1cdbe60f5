package io.checkpointd.cli;

import io.checkpointd.protocol.auth.ChannelKey;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code checkpointd proxy-key --auth-key KEY --out FILE}: the shared-key setup's key for the proxy, derived one way
 * from the deployment's key. It opens only the control port, so the proxy host cannot push images to the backup.
 */
@Command(name = "proxy-key", mixinStandardHelpOptions = true,
        description = "Derive the proxy's key from the deployment's --auth-key: it opens only the control port, never "
                + "the replication port. Give it to 'checkpointd proxy --auth-key'; protect and backup keep the deployment's key.")
public final class ProxyKeyCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--auth-key", paramLabel = "FILE", required = true, description = "the deployment's key (protect and backup use it)")
    Path keyFile;

    @Option(names = "--out", paramLabel = "FILE", required = true, description = "where to write the proxy's key (mode 600; never overwritten)")
    Path out;

    @Override
    public Integer call() {
        ChannelKey key;
        try {
            key = ChannelKey.load(keyFile);
        } catch (ChannelKey.KeyFileException e) {
            throw new UsageException(e.getMessage());
        }
        if (key.controlOnly()) throw new UsageException("--auth-key " + keyFile + " is already a proxy key: give the deployment's key");
        if (Files.exists(out)) throw new UsageException(out + " already exists");
        try {
            key.writeProxyKey(out);
        } catch (IOException e) {
            throw new UsageException("cannot write " + out + ": " + e.getMessage());
        }
        spec.commandLine().getOut().println("wrote " + out + " (" + key.proxyKey() + ")");
        return Main.EXIT_OK;
    }
}
