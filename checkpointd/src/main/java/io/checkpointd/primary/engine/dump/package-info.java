/** The base dump: a CRIU dump of the process, which makes the new base of incremental epochs. */
package io.checkpointd.primary.engine.dump;
