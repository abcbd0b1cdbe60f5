/**
 * The pause: every thread stopped, the structure checked against the base, the output sealed, the registers and open
 * files read, with the memory stage on a second thread meanwhile; and the real-time priority and spinning that keep
 * it short.
 */
package io.checkpointd.primary.engine.pause;
