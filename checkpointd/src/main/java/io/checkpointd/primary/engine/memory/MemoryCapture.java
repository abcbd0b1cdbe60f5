package io.checkpointd.primary.engine.memory;

import java.nio.ByteBuffer;

/**
 * The memory of one stop, taken on the pause's memory thread: what the collect reported and removed (kept if the
 * attempt is given up), the present pages, the pages to copy (from the pre-copy, and copied in the pause into
 * {@code buf}), and the time of each part.
 */
public record MemoryCapture(long[] collected, long[] removed, long[] nowPresent, long[] copy, long[] fromPre, long[] inPause,
                            ByteBuffer buf, long collectNanos, long presentNanos, long copyNanos) {
}
