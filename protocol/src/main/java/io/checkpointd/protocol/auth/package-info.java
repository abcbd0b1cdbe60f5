/**
 * Authentication of checkpointd's channels and the roles allowed on each: {@link io.checkpointd.protocol.auth.Role}
 * and {@link io.checkpointd.protocol.auth.Link} (who may stand at each end), {@link io.checkpointd.protocol.auth.ChannelKey}
 * (the credentials: TLS, a shared key or the proxy's derived key, or explicit plain text),
 * {@link io.checkpointd.protocol.auth.AuthHandshake} (the one place that starts a channel: TLS 1.3 through
 * {@code TlsHandshake} and {@code RoleTrustManager}, or the shared key's nonce exchange),
 * {@link io.checkpointd.protocol.auth.FrameAuth} (the shared key's per-connection, per-direction HMAC on every frame),
 * {@link io.checkpointd.protocol.auth.PreAuthGate} (bounds on connections not yet authenticated) and
 * {@link io.checkpointd.protocol.auth.DeploymentCa} (what {@code checkpointd certs} makes). The codec takes the
 * {@code FrameAuth} as a parameter; nothing here is global.
 */
package io.checkpointd.protocol.auth;
