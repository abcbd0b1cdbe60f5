package io.checkpointd.cli;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Option value parsers; each failure message names the bad value and what a good one looks like. */
final class Converters {
    private static final Pattern DURATION = Pattern.compile("(-?\\d+)(ms|s|m)");
    private static final Pattern SIZE = Pattern.compile("(\\d+)([kKmMgG]i?[bB]?|[bB])?");

    private Converters() {
    }

    /** {@code HOST:PORT} with a port in 1..65535 (port 0 only where {@code allowZero}). */
    static InetSocketAddress hostPort(String value, boolean allowZero) {
        int i = value.lastIndexOf(':');
        if (i <= 0 || i == value.length() - 1) {
            throw new TypeConversionException("'" + value + "' is not HOST:PORT (e.g. 127.0.0.1:7070)");
        }
        String host = value.substring(0, i);
        if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
        int port;
        try {
            port = Integer.parseInt(value.substring(i + 1));
        } catch (NumberFormatException e) {
            throw new TypeConversionException("'" + value + "' is not HOST:PORT: the port must be a number (e.g. 127.0.0.1:7070)");
        }
        if (port < (allowZero ? 0 : 1) || port > 65535) {
            throw new TypeConversionException("'" + value + "': port " + port + " is out of range (1-65535)");
        }
        try {
            return new InetSocketAddress(InetAddress.getByName(host), port);
        } catch (UnknownHostException e) {
            throw new TypeConversionException("'" + value + "': unknown host '" + host + "'");
        }
    }

    /** HOST:PORT of a peer: port 1..65535. */
    static final class Peer implements ITypeConverter<InetSocketAddress> {
        @Override
        public InetSocketAddress convert(String value) {
            return hostPort(value, false);
        }
    }

    /** HOST:PORT to listen on: port 0 means any free port. */
    static final class Listen implements ITypeConverter<InetSocketAddress> {
        @Override
        public InetSocketAddress convert(String value) {
            return hostPort(value, true);
        }
    }

    /** A positive duration with a unit: {@code 25ms}, {@code 1s}, {@code 2m}. */
    static final class PositiveDuration implements ITypeConverter<Duration> {
        @Override
        public Duration convert(String value) {
            Matcher m = DURATION.matcher(value.trim().toLowerCase(Locale.ROOT));
            if (!m.matches()) {
                throw new TypeConversionException("'" + value + "' is not a duration: use a number with ms, s or m (e.g. 25ms, 1s)");
            }
            long n;
            try {
                n = Long.parseLong(m.group(1));
            } catch (NumberFormatException e) {
                throw new TypeConversionException("'" + value + "' is out of range");
            }
            if (n <= 0) throw new TypeConversionException("'" + value + "' must be greater than zero (e.g. 25ms, 1s)");
            Duration d = switch (m.group(2)) {
                case "ms" -> Duration.ofMillis(n);
                case "s" -> Duration.ofSeconds(n);
                default -> Duration.ofMinutes(n);
            };
            if (d.compareTo(Duration.ofHours(1)) > 0) throw new TypeConversionException("'" + value + "' is too long (at most 1 hour)");
            return d;
        }
    }

    /** A byte size: {@code 8MiB}, {@code 512k}, {@code 1g}, plain bytes. */
    static final class ByteSize implements ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            Matcher m = SIZE.matcher(value.trim());
            if (!m.matches()) throw new TypeConversionException("'" + value + "' is not a size (e.g. 8MiB, 512k, 1g)");
            long n = Long.parseLong(m.group(1));
            String u = m.group(2) == null ? "" : m.group(2).toLowerCase(Locale.ROOT);
            long mul = u.startsWith("k") ? 1L << 10 : u.startsWith("m") ? 1L << 20 : u.startsWith("g") ? 1L << 30 : 1;
            if (n <= 0) throw new TypeConversionException("'" + value + "' must be greater than zero");
            return n * mul;
        }
    }
}
