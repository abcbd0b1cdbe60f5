package io.checkpointd.cli;

import io.checkpointd.protocol.auth.DeploymentCa;
import io.checkpointd.protocol.auth.Role;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code checkpointd certs --out DIR}: a deployment's CA and one TLS certificate per role. The backup's certificate
 * names the primary role too, because after a failover the backup protects the restored service as its primary.
 */
@Command(name = "certs", mixinStandardHelpOptions = true,
        description = "Make the TLS files of a deployment in DIR: ca.crt/ca.key (the CA), and primary, backup, proxy and "
                + "arbiter .crt/.key (keys mode 600). Give each host its role's pair and ca.crt; keep ca.key offline.")
public final class CertsCommand implements Callable<Integer> {
    /** Each file's role(s), in the order written. */
    static final Map<String, Set<Role>> FILES = files();

    @Spec
    CommandSpec spec;

    @Option(names = "--out", paramLabel = "DIR", required = true,
            description = "directory to write to (created mode 700 if missing); existing files are never overwritten")
    Path out;

    @Option(names = "--name", paramLabel = "NAME", defaultValue = "checkpointd",
            description = "the deployment's name, in the CA's and certificates' subjects (default: ${DEFAULT-VALUE})")
    String name;

    @Option(names = "--days", paramLabel = "N", defaultValue = "825",
            description = "how long the role certificates are valid (default: ${DEFAULT-VALUE}); the CA lives 10 years")
    int days;

    @Option(names = "--dns", paramLabel = "ROLE=HOST", split = ",",
            description = "add a DNS name to a role's certificate, for the operator's tools (checkpointd checks roles, not names)")
    List<String> dns = new ArrayList<>();

    private static Map<String, Set<Role>> files() {
        Map<String, Set<Role>> m = new LinkedHashMap<>();
        m.put("primary", EnumSet.of(Role.PRIMARY));
        m.put("backup", EnumSet.of(Role.BACKUP, Role.PRIMARY));
        m.put("proxy", EnumSet.of(Role.PROXY));
        m.put("arbiter", EnumSet.of(Role.ARBITER));
        return m;
    }

    @Override
    public Integer call() {
        if (days < 1 || days > 3650) throw new UsageException("--days must be between 1 and 3650, not " + days);
        if (!name.matches("[A-Za-z0-9._-]{1,64}")) throw new UsageException("--name must be 1-64 letters, digits, '.', '_' or '-'");
        Map<String, List<String>> names = dnsNames();
        List<Path> targets = new ArrayList<>(List.of(out.resolve("ca.crt"), out.resolve("ca.key")));
        for (String f : FILES.keySet()) targets.addAll(List.of(out.resolve(f + ".crt"), out.resolve(f + ".key")));
        for (Path t : targets) if (Files.exists(t)) throw new UsageException(t + " already exists: choose an empty --out directory");
        try {
            if (!Files.isDirectory(out)) {
                Files.createDirectories(out, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            }
        } catch (IOException e) {
            throw new UsageException("cannot create --out " + out + ": " + e.getMessage());
        }
        PrintWriter w = spec.commandLine().getOut();
        try {
            DeploymentCa ca = DeploymentCa.create(name + " CA", DeploymentCa.CA_VALIDITY);
            ca.writeCa(out);
            Instant now = Instant.now();
            for (Map.Entry<String, Set<Role>> f : FILES.entrySet()) {
                DeploymentCa.Issued issued = ca.issue(name + "-" + f.getKey(), f.getValue(),
                        names.getOrDefault(f.getKey(), List.of()), now.minusSeconds(60), now.plus(Duration.ofDays(days)));
                DeploymentCa.write(out, f.getKey(), issued);
                w.printf("%s.crt  roles %s, valid until %s%n", f.getKey(), Role.labels(f.getValue()), issued.certificate().getNotAfter().toInstant());
            }
        } catch (IOException | GeneralSecurityException e) {
            throw new UsageException("cannot write the certificates to " + out + ": " + e.getMessage());
        }
        w.println("ca.crt   goes to every host (--tls-ca); ca.key signs new certificates: keep it off the hosts");
        return Main.EXIT_OK;
    }

    private Map<String, List<String>> dnsNames() {
        Map<String, List<String>> m = new LinkedHashMap<>();
        for (String d : dns) {
            int eq = d.indexOf('=');
            String role = eq < 0 ? "" : d.substring(0, eq);
            if (!FILES.containsKey(role) || eq == d.length() - 1) {
                throw new UsageException("--dns " + d + ": expected ROLE=HOST with ROLE one of " + String.join(", ", FILES.keySet()));
            }
            m.computeIfAbsent(role, k -> new ArrayList<>()).add(d.substring(eq + 1));
        }
        return m;
    }
}
