package io.checkpointd.protocol.replication;

import io.checkpointd.protocol.ProtocolException;

/**
 * Opens a replication session: who the primary protects, so the backup can fence it (kill it if it is still
 * alive on the same host) and knows where the restored service will listen.
 *
 * @param generation  the primary's generation (fencing token)
 * @param servicePid  the protected process
 * @param serviceStartTicks its start time (field 22 of /proc/PID/stat), so a recycled pid is never mistaken for it
 * @param bootId      /proc/sys/kernel/random/boot_id of the primary's host
 * @param serviceAddress "host:port" where the service accepts clients, or "" if unknown
 */
public record Hello(long generation, int servicePid, long serviceStartTicks, String bootId, String serviceAddress) {
    public byte[] encode() {
        return new Wire.Out(128).i64(generation).i32(servicePid).i64(serviceStartTicks).str(bootId).str(serviceAddress)
                .toByteArray();
    }

    public static Hello decode(byte[] p) throws ProtocolException {
        Wire.In in = new Wire.In(p);
        Hello h = new Hello(in.i64(), in.i32(), in.i64(), in.str(), in.str());
        in.end();
        return h;
    }
}
