package io.checkpointd.linux;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Pipes seen from outside: how many bytes one holds ({@code FIONREAD}, on either end, e.g. a {@code pidfd_getfd} duplicate). */
public final class Pipes {
    /** {@code FIONREAD} ({@code <asm-generic/ioctls.h>}): bytes in the pipe's buffer. */
    private static final long FIONREAD = 0x541B;

    private Pipes() {
    }

    public static int bytesQueued(FileDescriptor end) throws SyscallException {
        ByteBuffer n = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder());
        Ioctl.ioctl(end, FIONREAD, n, "FIONREAD");
        return n.getInt(0);
    }
}
