package io.checkpointd.linux.criu;

/**
 * CRIU's {@code --manage-cgroups} modes ({@code enum criu_cg_mode}, same order as in criu.h).
 *
 * <p>checkpointd defaults to {@link #IGNORE}: the only cgroup checkpointd itself puts a process in is its freezer
 * cgroup, which is not the service's state; restoring into it (possibly still FROZEN after a primary died
 * mid-epoch) would leave the restored service frozen. With IGNORE the restored process joins the restorer's
 * cgroups; the backup then moves it to a scope or cgroup of its own before it runs
 * ({@link RestoreOptions#beforeResume()}, {@link io.checkpointd.linux.cgroup.Placement}).
 */
public enum CgroupMode {
    IGNORE, NONE, PROPS, SOFT, FULL, STRICT, DEFAULT;

    /** The C enum value. */
    int code() {
        return ordinal();
    }
}
