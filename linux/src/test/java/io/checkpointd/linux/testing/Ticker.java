package io.checkpointd.linux.testing;

/** Child JVM that prints {@code tick <n>} every 10 ms, to see whether it makes progress. */
public final class Ticker {
    public static void main(String[] args) throws Exception {
        for (long n = 0; ; n++) {
            System.out.println("tick " + n);
            System.out.flush();
            Thread.sleep(10);
        }
    }
}
