/**
 * Threads that started or ended since the base dump, captured by the engine itself: {@link
 * io.checkpointd.primary.engine.threads.ThreadModel} learns from the base dump's cores what a new thread's core
 * takes from a template and where its {@code clear_tid_addr} is, {@link
 * io.checkpointd.primary.engine.threads.ThreadCores} builds each thread's core and the process tree's threads list.
 */
package io.checkpointd.primary.engine.threads;
