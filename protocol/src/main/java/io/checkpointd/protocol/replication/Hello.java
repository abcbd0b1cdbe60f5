package io.checkpointd.protocol.replication;

import io.checkpointd.protocol.ProtocolException;

/**
 * Opens a replication session: who the primary protects, so the backup can fence it (kill it if it is still
 * alive on the same host) and knows where the restored service will listen, and how it protects it, so a backup
 * that re-protects the restored service does it the same way.
 *
 * @param generation  the primary's generation (fencing token)
 * @param servicePid  the protected process
 * @param serviceStartTicks its start time (field 22 of /proc/PID/stat), so a recycled pid is never mistaken for it
 * @param bootId      /proc/sys/kernel/random/boot_id of the primary's host
 * @param serviceAddress "host:port" where the service accepts clients, or "" if unknown
 * @param protectOptions {@code protect} options of this primary that a re-protecting backup carries over (e.g.
 *                       {@code --hold packets}), space-separated; "" for none. Sent only when not empty, so a
 *                       primary without them speaks the Hello of earlier versions.
 */
public record Hello(long generation, int servicePid, long serviceStartTicks, String bootId, String serviceAddress,
                    String protectOptions) {
    public Hello {
        protectOptions = protectOptions == null ? "" : protectOptions;
    }

    /** A Hello without protect options to carry over. */
    public Hello(long generation, int servicePid, long serviceStartTicks, String bootId, String serviceAddress) {
        this(generation, servicePid, serviceStartTicks, bootId, serviceAddress, "");
    }

    public byte[] encode() {
        Wire.Out out = new Wire.Out(128).i64(generation).i32(servicePid).i64(serviceStartTicks).str(bootId).str(serviceAddress);
        if (!protectOptions.isEmpty()) out.str(protectOptions);
        return out.toByteArray();
    }

    public static Hello decode(byte[] p) throws ProtocolException {
        Wire.In in = new Wire.In(p);
        long generation = in.i64();
        int pid = in.i32();
        long ticks = in.i64();
        String bootId = in.str(), service = in.str();
        boolean optionsSent = in.remaining() > 0;
        String options = optionsSent ? in.str() : "";
        // no options go as no field at all (the old format): an empty field is what no encoder writes
        if (optionsSent && options.isEmpty()) throw new ProtocolException("hello: an empty protect-options field");
        in.end();
        return new Hello(generation, pid, ticks, bootId, service, options);
    }
}
