package io.checkpointd.arbiter;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * A parsed {@code zk://HOST:PORT[,HOST:PORT...]/BASE} address: ZooKeeper's connect string and the base path
 * under which every protected service gets its own node.
 *
 * @param connectString {@code host:port,host:port} as ZooKeeper takes it
 * @param basePath      e.g. {@code /checkpointd}
 */
public record ArbiterAddress(String connectString, String basePath) {
    private static final String SCHEME = "zk://";
    private static final String EXAMPLE = " (e.g. zk://127.0.0.1:2181/checkpointd)";
    private static final Pattern SEGMENT = Pattern.compile("[A-Za-z0-9._-]{1,100}");
    private static final Pattern SERVICE_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,99}");

    /** @throws IllegalArgumentException with one line naming what is wrong and an example of a good value */
    public static ArbiterAddress parse(String value) {
        if (value == null || !value.startsWith(SCHEME)) throw bad(value, "must start with zk://");
        String rest = value.substring(SCHEME.length());
        int slash = rest.indexOf('/');
        if (slash < 0) throw bad(value, "needs a base path after the hosts");
        String hosts = rest.substring(0, slash);
        String path = rest.substring(slash);
        if (hosts.isEmpty()) throw bad(value, "names no HOST:PORT");
        List<String> parsed = new ArrayList<>();
        for (String hp : hosts.split(",", -1)) parsed.add(hostPort(value, hp));
        checkPath(value, path);
        return new ArbiterAddress(String.join(",", parsed), path);
    }

    /** The service id as a single path segment; @throws IllegalArgumentException naming the rule */
    public static String checkServiceId(String id) {
        if (id == null || !SERVICE_ID.matcher(id).matches()) {
            throw new IllegalArgumentException("--service-id '" + id + "' must be 1-100 letters, digits, '.', '_' or '-', "
                    + "starting with a letter or digit (e.g. kv-store)");
        }
        return id;
    }

    /** The node of one service. */
    public String servicePath(String serviceId) {
        return basePath + "/" + checkServiceId(serviceId);
    }

    @Override
    public String toString() {
        return SCHEME + connectString + basePath;
    }

    private static String hostPort(String value, String hp) {
        int colon = hp.lastIndexOf(':');
        if (colon <= 0 || colon == hp.length() - 1) throw bad(value, "'" + hp + "' is not HOST:PORT");
        String host = hp.substring(0, colon);
        if (host.startsWith("[") != host.endsWith("]")) throw bad(value, "'" + hp + "' has an unbalanced IPv6 bracket");
        if (!host.startsWith("[") && !host.matches("[A-Za-z0-9.-]+")) throw bad(value, "'" + host + "' is not a host name or address");
        int port;
        try {
            port = Integer.parseInt(hp.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw bad(value, "the port of '" + hp + "' must be a number");
        }
        if (port < 1 || port > 65535) throw bad(value, "port " + port + " is out of range (1-65535)");
        return host + ":" + port;
    }

    private static void checkPath(String value, String path) {
        if (path.equals("/")) throw bad(value, "needs a base path, not '/'");
        if (path.endsWith("/")) throw bad(value, "the base path must not end with '/'");
        for (String seg : path.substring(1).split("/", -1)) {
            if (!SEGMENT.matcher(seg).matches() || seg.equals(".") || seg.equals("..")) {
                throw bad(value, "base path segment '" + seg + "' must be letters, digits, '.', '_' or '-'");
            }
        }
        if (path.equals("/zookeeper") || path.startsWith("/zookeeper/")) throw bad(value, "/zookeeper is ZooKeeper's own");
        if (path.contains("?") || path.contains("#")) throw bad(value, "takes no query or fragment");
    }

    private static IllegalArgumentException bad(String value, String why) {
        return new IllegalArgumentException("--arbiter '" + value + "': " + why + EXAMPLE);
    }
}
