/** Releasing output: the primary's control channel to the output-commit proxy (seal, release, passthrough, hold). */
package io.checkpointd.primary.release;
