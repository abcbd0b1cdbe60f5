/**
 * Output commit at the packet level ({@code protect --hold packets}): {@link
 * io.checkpointd.primary.release.packets.PacketHold} (seal, release, drop every packet the process sent),
 * the epochs' packet ids ({@code HeldEpochs}) and the cgroup and iptables rules that select the process's packets
 * ({@code HoldRules}).
 */
package io.checkpointd.primary.release.packets;
