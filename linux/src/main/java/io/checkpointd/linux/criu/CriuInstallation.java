package io.checkpointd.linux.criu;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A located CRIU: the {@code criu} binary libcriu will run in swrk mode, the {@code libcriu.so} to load, and the
 * binary's version.
 *
 * @param binary  absolute path of the {@code criu} executable
 * @param library absolute path of {@code libcriu.so}
 * @param version what {@code criu --version} printed
 */
public record CriuInstallation(Path binary, Path library, CriuVersion version) {
    public CriuInstallation {
        Objects.requireNonNull(binary, "binary");
        Objects.requireNonNull(library, "library");
        Objects.requireNonNull(version, "version");
    }
}
