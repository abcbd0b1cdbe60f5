package io.checkpointd.linux.inotify;

/**
 * One {@code struct inotify_event}: {@code name} is the entry inside the watched directory the event is about,
 * or empty when it is about the watched directory itself.
 */
public record InotifyEvent(int wd, int mask, int cookie, String name) {
    /** The event names a directory ({@code IN_ISDIR}). */
    public boolean isDir() {
        return (mask & Inotify.IN_ISDIR) != 0;
    }

    /** The kernel dropped events because the queue was full ({@code IN_Q_OVERFLOW}, {@code wd == -1}). */
    public boolean overflow() {
        return (mask & Inotify.IN_Q_OVERFLOW) != 0;
    }

    /** True if any bit of {@code bits} is set in the mask. */
    public boolean any(int bits) {
        return (mask & bits) != 0;
    }
}
