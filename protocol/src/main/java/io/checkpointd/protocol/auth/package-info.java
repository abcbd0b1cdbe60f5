/**
 * Authentication of checkpointd's channels with a shared key: {@link io.checkpointd.protocol.auth.ChannelKey} (the
 * key file, or explicit plain text), {@link io.checkpointd.protocol.auth.AuthHandshake} (nonce exchange at
 * connect) and {@link io.checkpointd.protocol.auth.FrameAuth} (a per-connection, per-direction HMAC on every
 * frame). The codec takes the {@code FrameAuth} as a parameter; nothing here is global.
 */
package io.checkpointd.protocol.auth;
