package io.checkpointd.linux.criu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CriuLocatorTest {
    @TempDir
    Path tmp;

    private Path fakeInstall(String versionLine) throws Exception {
        Path prefix = Files.createDirectories(tmp.resolve("prefix-" + versionLine.hashCode()));
        Path criu = Files.createDirectories(prefix.resolve("sbin")).resolve("criu");
        Files.writeString(criu, "#!/bin/sh\necho '" + versionLine + "'\n");
        Files.setPosixFilePermissions(criu, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.createDirectories(prefix.resolve("lib"));
        Files.writeString(prefix.resolve("lib/libcriu.so"), "not really a library");
        return prefix;
    }

    @Test
    void refusesAnOldCriuWithAClearMessage() throws Exception {
        Path prefix = fakeInstall("Version: 3.17.1");
        assertThatThrownBy(() -> new CriuLocator(prefix.toString(), null, null).locate())
                .isInstanceOf(CriuUnavailableException.class)
                .hasMessage("CRIU 3.17.1 at " + prefix.resolve("sbin/criu").toAbsolutePath()
                        + " is too old: checkpointd needs >= 4.2 (run scripts/install-criu)");
    }

    @Test
    void oldCriuInTheDefaultPrefixIsReportedWhenNothingElseQualifies() throws Exception {
        Path prefix = fakeInstall("Version: 4.1.1");
        assertThatThrownBy(() -> new CriuLocator(null, prefix, "").locate())
                .hasMessageContaining("CRIU 4.1.1 at ").hasMessageContaining("is too old")
                .hasMessageContaining("run scripts/install-criu");
    }

    @Test
    void acceptsANewEnoughOne() throws Exception {
        Path prefix = fakeInstall("Version: 4.2.1");
        CriuInstallation inst = new CriuLocator(null, prefix, null).locate();
        assertThat(inst.version()).isEqualTo(new CriuVersion(4, 2, 1));
        assertThat(inst.binary()).isEqualTo(prefix.resolve("sbin/criu").toAbsolutePath());
        assertThat(inst.library()).isEqualTo(prefix.resolve("lib/libcriu.so").toAbsolutePath());
    }

    @Test
    void missingCriuNamesTheInstallScript() {
        assertThatThrownBy(() -> new CriuLocator(null, tmp.resolve("nowhere"), tmp.toString()).locate())
                .isInstanceOf(CriuUnavailableException.class)
                .hasMessageStartingWith("CRIU not found")
                .hasMessageContaining("run scripts/install-criu")
                .hasMessageNotContaining("\n");
        assertThatThrownBy(() -> new CriuLocator(tmp.resolve("nowhere").toString(), null, null).locate())
                .hasMessageContaining("CHECKPOINTD_CRIU_PREFIX").hasMessageContaining("run scripts/install-criu");
    }

    @Test
    void parsesVersions() {
        assertThat(CriuVersion.parse("Version: 4.2.1\nGitID: v4.2.1\n")).contains(new CriuVersion(4, 2, 1));
        assertThat(CriuVersion.parse("Version: 4.2\n")).contains(new CriuVersion(4, 2, 0));
        assertThat(CriuVersion.parse("criu: command not found")).isEmpty();
        assertThat(CriuVersion.fromLibcriu(40201)).isEqualTo(new CriuVersion(4, 2, 1));
        assertThat(new CriuVersion(4, 10, 0).isAtLeast(CriuVersion.MINIMUM)).isTrue();
        assertThat(new CriuVersion(3, 99, 9).isAtLeast(CriuVersion.MINIMUM)).isFalse();
    }
}
