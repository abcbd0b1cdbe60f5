/**
 * Services whose state lives partly in files, for the data-dir tests: {@link io.checkpointd.demo.disk.AppendService}
 * and the client that loads it, {@link io.checkpointd.demo.disk.LineClient}; {@link io.checkpointd.demo.disk.LineServer}
 * is the command line and serving loop such services share.
 */
package io.checkpointd.demo.disk;
