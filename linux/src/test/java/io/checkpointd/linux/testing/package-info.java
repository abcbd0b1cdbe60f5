/** Test fixtures: tracked child processes and the child main classes the tests run. */
package io.checkpointd.linux.testing;
