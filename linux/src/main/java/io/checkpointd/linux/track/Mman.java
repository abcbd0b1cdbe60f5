package io.checkpointd.linux.track;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

/** Raw {@code <sys/mman.h>} for this package's probes; package-private. */
interface Mman extends Library {
    Mman INSTANCE = Native.load("c", Mman.class);

    int PROT_READ = 1, PROT_WRITE = 2, MAP_PRIVATE = 0x02, MAP_ANONYMOUS = 0x20;

    /** {@code void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset)} */
    Pointer mmap(Pointer addr, long length, int prot, int flags, int fd, long offset);

    int munmap(Pointer addr, long length);
}
