package io.checkpointd.linux;

import com.sun.jna.Library;
import com.sun.jna.Native;

/** Raw libc: package-private; public wrappers check every result and throw {@link SyscallException}. */
interface LibC extends Library {
    LibC INSTANCE = Native.load("c", LibC.class);

    int close(int fd);
}
