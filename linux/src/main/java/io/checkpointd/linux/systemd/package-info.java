/**
 * systemd's readiness protocol without libsystemd ({@link io.checkpointd.linux.systemd.SdNotify}): one datagram to
 * {@code $NOTIFY_SOCKET}.
 */
package io.checkpointd.linux.systemd;
