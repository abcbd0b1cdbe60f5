/** Taking over: fence the old generation, redirect the proxy, restore the last committed epoch with CRIU. */
package io.checkpointd.restore.failover;
