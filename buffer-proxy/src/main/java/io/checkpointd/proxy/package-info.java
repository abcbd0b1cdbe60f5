/**
 * The output-commit proxy: sits between clients and the protected service and holds the service's output of
 * epoch N until the backup acknowledged N.
 *
 * <p>Where things live: {@link io.checkpointd.proxy.BufferProxy} wires it up and owns the single event loop;
 * {@code OutputCommit} is the proxy-wide state (generation, seal/release watermarks, caps);
 * {@code OutputCommitHandler} + {@code HeldOutput} hold one client's output; {@code ClientRelayHandler} and
 * {@code UpstreamConnector} carry bytes to and from the service; {@code ControlHandler} applies control requests.
 * Everything runs on one event-loop thread, so a seal is trivially ordered with every read.
 */
package io.checkpointd.proxy;
