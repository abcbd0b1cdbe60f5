package io.checkpointd.protocol.auth;

import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * What a checkpointd process is allowed to be on a channel. A TLS certificate carries its roles as subject
 * alternative name URIs {@code checkpointd:role:<name>} (one per role), signed by the deployment's CA, so a role
 * cannot be claimed without the CA's signature.
 */
public enum Role {
    /** Protects the service: pushes epochs to the backup, seals and releases output at the proxy. */
    PRIMARY,
    /** Stores epochs and fails over: announces generations and passthrough to the proxy. */
    BACKUP,
    /** The output-commit proxy: serves the control port; it may never push images. */
    PROXY,
    /** An arbiter's client certificate (no checkpointd listener accepts it). */
    ARBITER;

    /** Prefix of the SAN URI that names a role. */
    public static final String URI_PREFIX = "checkpointd:role:";

    /** The SAN URI naming this role, e.g. {@code checkpointd:role:proxy}. */
    public String uri() {
        return URI_PREFIX + label();
    }

    /** The lower-case name used in URIs, file names and messages. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The role named {@code label} (case-insensitive). @throws IllegalArgumentException naming the known ones */
    public static Role ofLabel(String label) {
        for (Role r : values()) if (r.label().equalsIgnoreCase(label)) return r;
        throw new IllegalArgumentException("unknown role '" + label + "' (known: " + labels(EnumSet.allOf(Role.class)) + ")");
    }

    /** The roles a certificate's SAN URIs name; unknown {@code checkpointd:role:} values are ignored. */
    public static Set<Role> of(X509Certificate cert) {
        Set<Role> roles = EnumSet.noneOf(Role.class);
        Collection<List<?>> sans;
        try {
            sans = cert.getSubjectAlternativeNames();
        } catch (CertificateParsingException e) {
            return roles;
        }
        if (sans == null) return roles;
        for (List<?> san : sans) {
            // entry: [type, value]; type 6 is uniformResourceIdentifier (RFC 5280)
            if (san.size() == 2 && Integer.valueOf(6).equals(san.get(0)) && san.get(1) instanceof String uri
                    && uri.startsWith(URI_PREFIX)) {
                String name = uri.substring(URI_PREFIX.length());
                for (Role r : values()) if (r.label().equals(name)) roles.add(r);
            }
        }
        return roles;
    }

    /** "primary, backup": for messages. */
    public static String labels(Set<Role> roles) {
        return roles.isEmpty() ? "none" : roles.stream().map(Role::label).collect(Collectors.joining(", "));
    }
}
