package io.checkpointd.linux.criu;

import io.checkpointd.linux.Errno;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A failed CRIU operation. The message names the operation, libcriu's return code with its meaning, the errno
 * CRIU reported (if any) and the last lines of CRIU's log, which is where the actual reason usually is.
 */
public final class CriuException extends IOException {
    private static final long serialVersionUID = 1L;

    // libcriu's own negative returns (criu.h, "table of return values"); errno numbers from asm-generic/errno.h.
    private static final int EINVAL = 22, EBADE = 52, ECOMM = 70, EBADMSG = 74, ECONNREFUSED = 111;

    private final String operation;
    private final int returnCode;
    private final int criuErrno;
    private final transient Path logFile;
    private final String logTail;

    /**
     * @param operation  e.g. {@code "dump of pid 123"}
     * @param returnCode libcriu's return value (negative), or 0 when the failure is on our side
     * @param criuErrno  errno after the call (CRIU's {@code cr_errno} for an RPC failure), 0 if none
     * @param logFile    CRIU's log file, or null
     * @param logTail    its last lines (or another explanation), or null
     */
    public CriuException(String operation, int returnCode, int criuErrno, Path logFile, String logTail) {
        super(format(operation, returnCode, criuErrno, logFile, logTail));
        this.operation = operation;
        this.returnCode = returnCode;
        this.criuErrno = criuErrno;
        this.logFile = logFile;
        this.logTail = logTail;
    }

    public String operation() { return operation; }

    /** libcriu's return code, e.g. {@code -52} ({@code -EBADE}: CRIU itself failed, see the log). */
    public int returnCode() { return returnCode; }

    /** The errno CRIU reported (0 when none). */
    public int criuErrno() { return criuErrno; }

    public Optional<Path> logFile() { return Optional.ofNullable(logFile); }

    /** The last lines of CRIU's log, or an empty string. */
    public String logTail() { return logTail == null ? "" : logTail; }

    /** What a libcriu return code means. */
    public static String describeReturnCode(int rc) {
        if (rc >= 0) return "ok";
        switch (-rc) {
            case EBADE: return "-EBADE: CRIU service failed (the RPC returned failure, see the log)";
            case ECONNREFUSED: return "-ECONNREFUSED: cannot start or connect to criu swrk";
            case ECOMM: return "-ECOMM: cannot send/receive the RPC message to/from criu (did it crash?)";
            case EINVAL: return "-EINVAL: this CRIU does not support the request";
            case EBADMSG: return "-EBADMSG: unexpected response from CRIU";
            case 1: return "-1: libcriu failed before reaching CRIU";
            default: return "-" + errnoName(-rc) + " (" + Errno.strerror(-rc) + ")";
        }
    }

    static String errnoName(int errno) {
        String n = Errno.name(errno);
        if (!n.startsWith("errno ")) return n;
        switch (errno) {
            case EBADE: return "EBADE";
            case ECOMM: return "ECOMM";
            case EBADMSG: return "EBADMSG";
            case 98: return "EADDRINUSE";
            case 99: return "EADDRNOTAVAIL";
            default: return n;
        }
    }

    private static String format(String op, int rc, int errno, Path log, String tail) {
        StringBuilder sb = new StringBuilder("criu ").append(op).append(" failed");
        if (rc != 0) sb.append(": libcriu returned ").append(rc).append(" (").append(describeReturnCode(rc)).append(')');
        if (errno > 0) sb.append(", errno ").append(errnoName(errno)).append(" (").append(Errno.strerror(errno)).append(')');
        if (tail != null && !tail.isBlank()) {
            sb.append(log == null ? "; output:" : "; tail of " + log + ":");
            for (String line : tail.strip().split("\n")) sb.append("\n  ").append(line);
        } else if (log != null) {
            sb.append("; no log at ").append(log);
        }
        return sb.toString();
    }
}
