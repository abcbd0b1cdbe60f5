package io.checkpointd.cli;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/**
 * The version and git commit this build was made from, read from {@code build.properties}, which the build writes
 * next to this class (the antrun step in this module's pom). A class tree without it (an IDE build) says "dev".
 */
public final class BuildInfo {
    private static final BuildInfo CURRENT = load();

    private final String version;
    private final String commit;

    private BuildInfo(String version, String commit) {
        this.version = version;
        this.commit = commit;
    }

    public static BuildInfo current() {
        return CURRENT;
    }

    public String version() {
        return version;
    }

    /** Short commit id, with {@code -dirty} when the tree had uncommitted changes; {@code unknown} outside git. */
    public String commit() {
        return commit;
    }

    /** {@code checkpointd 0.1.0 (commit 4c077d5a653e)}: what {@code --version} and the daemons' first line say. */
    public String describe() {
        return "checkpointd " + version + " (commit " + commit + ")";
    }

    private static BuildInfo load() {
        Properties p = new Properties();
        try (InputStream in = BuildInfo.class.getResourceAsStream("build.properties")) {
            if (in != null) p.load(in);
        } catch (IOException e) {
            // unreadable: fall through to "dev"
        }
        return new BuildInfo(p.getProperty("version", "dev"), p.getProperty("commit", "unknown"));
    }
}
