package io.checkpointd.linux.criu;

import com.sun.jna.Pointer;

/**
 * libcriu's notify callback for a restore: on {@code post-restore} (every task restored, none resumed yet) it runs
 * the caller's {@link RestoreOptions.BeforeResume} with the root pid; other actions pass. A hook that throws makes
 * the callback return non-zero, so CRIU aborts and kills the restored tree; the failure is kept for the caller.
 * Referenced from {@link Criu#restore} for the whole call, so JNA's native stub is not collected while in use.
 */
final class PostRestore implements LibCriu.NotifyCallback {
    static final String ACTION = "post-restore";

    private final LibCriu lib;
    private final RestoreOptions.BeforeResume hook;
    volatile boolean ran;
    volatile String failure;

    PostRestore(LibCriu lib, RestoreOptions.BeforeResume hook) {
        this.lib = lib;
        this.hook = hook;
    }

    @Override
    public int invoke(String action, Pointer na) {
        if (!ACTION.equals(action)) return 0;
        ran = true;
        int pid = lib.criu_notify_pid(na);
        try {
            if (pid <= 0) throw new IllegalStateException("CRIU gave no pid with " + ACTION);
            hook.restored(pid);
            return 0;
        } catch (Exception | Error e) { // nothing may escape into native code
            failure = e.getMessage() == null ? e.toString() : e.getMessage();
            return -1;
        }
    }
}
