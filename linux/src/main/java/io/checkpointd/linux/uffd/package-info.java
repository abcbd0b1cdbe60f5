/**
 * Dirty-page tracking without soft-dirty: userfaultfd write-protect in async mode
 * ({@link io.checkpointd.linux.uffd.Userfaultfd}), the {@code PAGEMAP_SCAN} ioctl that reports and re-protects
 * written pages ({@link io.checkpointd.linux.uffd.PagemapScan}), and
 * {@link io.checkpointd.linux.uffd.UffdTracker}, which gives an unmodified target process a userfaultfd by
 * ptrace injection and scans its written ranges each epoch. Needs kernel 6.7+; constants are defined here
 * because distribution headers may predate them.
 */
package io.checkpointd.linux.uffd;
