package io.checkpointd.linux.criu;

import com.sun.jna.Callback;
import com.sun.jna.Library;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;

/**
 * Raw libcriu (the {@code criu_local_*} half of {@code criu.h}, CRIU 4.2). Package-private: {@link Criu} checks every
 * result. C {@code bool} parameters are passed as Java {@code boolean} (an int 0/1, which the x86-64 and aarch64
 * ABIs accept for {@code _Bool}). All string setters strdup their argument in CRIU >= 4.0, so JNA's temporary
 * native strings are safe.
 */
interface LibCriu extends Library {
    int criu_local_init_opts(PointerByReference opts);

    void criu_local_free_opts(Pointer opts);

    int criu_local_set_service_binary(Pointer opts, String path);

    void criu_local_set_pid(Pointer opts, int pid);

    void criu_local_set_images_dir_fd(Pointer opts, int fd);

    void criu_local_set_work_dir_fd(Pointer opts, int fd);

    int criu_local_set_parent_images(Pointer opts, String path);

    void criu_local_set_leave_running(Pointer opts, boolean value);

    void criu_local_set_tcp_established(Pointer opts, boolean value);

    void criu_local_set_tcp_close(Pointer opts, boolean value);

    /** {@code enum criu_network_lock_method}: IPTABLES 1, NFTABLES 2, SKIP 3. */
    int criu_local_set_network_lock(Pointer opts, int method);

    void criu_local_set_shell_job(Pointer opts, boolean value);

    void criu_local_set_file_locks(Pointer opts, boolean value);

    /** Options CRIU reads from a file, as on its command line; libcriu has no setter for some
     * ({@code lazy-pages}, the patched {@code --skip-pages-in}). */
    int criu_local_set_config_file(Pointer opts, String path);

    void criu_local_set_manage_cgroups_mode(Pointer opts, int mode);

    void criu_local_set_tcp_skip_in_flight(Pointer opts, boolean value);

    void criu_local_set_track_mem(Pointer opts, boolean value);

    void criu_local_set_log_level(Pointer opts, int level);

    int criu_local_set_log_file(Pointer opts, String name);

    int criu_local_set_freeze_cgroup(Pointer opts, String name);

    void criu_local_set_ghost_limit(Pointer opts, int limitBytes);

    void criu_local_set_ext_unix_sk(Pointer opts, boolean value);

    int criu_local_add_unix_sk(Pointer opts, int inode);

    int criu_local_add_inherit_fd(Pointer opts, int fd, String key);

    int criu_local_check(Pointer opts);

    int criu_local_dump(Pointer opts);

    int criu_local_restore(Pointer opts);

    int criu_local_restore_child(Pointer opts);

    int criu_local_get_version(Pointer opts);

    /** {@code int (*cb)(char *action, criu_notify_arg_t na)}: non-zero aborts the dump or restore. */
    interface NotifyCallback extends Callback {
        int invoke(String action, Pointer na);
    }

    /** Also turns on {@code notify_scripts}: CRIU then stops at each action and waits for the callback. */
    void criu_local_set_notify_cb(Pointer opts, NotifyCallback cb);

    /** The root pid, for the {@code post-restore} action only. */
    int criu_notify_pid(Pointer na);

    /** {@code struct criu_feature_check { bool mem_track; bool lazy_pages; bool pidfd_store; }}: 3 bytes. */
    int criu_local_feature_check(Pointer opts, Pointer features, long size);
}
