package io.checkpointd.cli;

/** slf4j-simple set up for daemons: timestamps, thread names off, to stderr; $CHECKPOINTD_LOG_LEVEL overrides. */
final class Logging {
    private Logging() {
    }

    static void configure() {
        String level = System.getenv("CHECKPOINTD_LOG_LEVEL");
        setDefault("org.slf4j.simpleLogger.defaultLogLevel", level == null || level.isBlank() ? "info" : level);
        setDefault("org.slf4j.simpleLogger.showDateTime", "true");
        setDefault("org.slf4j.simpleLogger.dateTimeFormat", "HH:mm:ss.SSS");
        setDefault("org.slf4j.simpleLogger.showThreadName", "false");
        setDefault("org.slf4j.simpleLogger.showShortLogName", "true");
        setDefault("org.slf4j.simpleLogger.logFile", "System.err");
        setDefault("org.slf4j.simpleLogger.log.io.netty", "warn");
        // ZooKeeper's client logs every connection step at info; our arbiter logs what matters
        setDefault("org.slf4j.simpleLogger.log.org.apache.zookeeper", "warn");
        setDefault("org.slf4j.simpleLogger.log.org.apache.curator", "warn");
    }

    private static void setDefault(String key, String value) {
        if (System.getProperty(key) == null) System.setProperty(key, value);
    }
}
