package io.checkpointd.linux.uffd;

import com.sun.jna.Native;
import com.sun.jna.Pointer;

/**
 * {@code ioctl(2)} by JNA direct mapping, for {@link PagemapScan}: an epoch's pause makes two {@code PAGEMAP_SCAN}
 * calls per cluster of tracked ranges and one per range it rescans for presence (the removed ones), and
 * {@link UffdLib}'s interface mapping costs several times a direct call. Raw, like {@link UffdLib}: callers check the
 * result and read errno with {@link Native#getLastError()}.
 */
final class ScanDirect {
    static {
        Native.register("c");
    }

    private ScanDirect() {
    }

    /** {@code int ioctl(int fd, unsigned long request, void *arg)} (variadic in C, fixed here: sound on x86_64). */
    static native int ioctl(int fd, long request, Pointer arg);
}
