package io.checkpointd.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code backup --service-address IP/PREFIX --service-iface IF}: both or neither, an IPv4 or IPv6 address, a sane
 * prefix and name; {@code protect --service-address IP/PREFIX}: the same spelling, only with {@code --hold packets}.
 */
class ServiceAddressOptionTest {
    private record Run(int code, String err) {
    }

    @TempDir
    Path tmp;

    private Run protect(String... more) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        var cl = Main.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        String[] args = new String[more.length + 5];
        System.arraycopy(new String[] {"protect", "1", "--backup", "127.0.0.1:1", "--insecure-plaintext"}, 0, args, 0, 5);
        System.arraycopy(more, 0, args, 5, more.length);
        return new Run(cl.execute(args), err.toString());
    }

    private Run backup(String... more) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        var cl = Main.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        String[] args = new String[more.length + 6];
        System.arraycopy(new String[] {"backup", "--listen", "127.0.0.1:0", "--dir", tmp.resolve("store").toString(), "--insecure-plaintext"}, 0, args, 0, 6);
        System.arraycopy(more, 0, args, 6, more.length);
        return new Run(cl.execute(args), err.toString());
    }

    @Test
    @Timeout(60) // a check that let a case through would start a backup daemon and wait
    void badServiceAddressesAreOneLineUsageErrors() {
        String[][] cases = {
                {"go together", "--service-address", "10.0.0.5/24"},
                {"go together", "--service-iface", "eth0"},
                {"expected IP/PREFIX", "--service-address", "10.0.0.5", "--service-iface", "eth0"},
                {"must be 1-32", "--service-address", "10.0.0.5/33", "--service-iface", "eth0"},
                {"not a number", "--service-address", "10.0.0.5/x", "--service-iface", "eth0"},
                {"must be 1-128", "--service-address", "fd00::5/129", "--service-iface", "eth0"},
                {"cannot be a service address", "--service-address", "fe80::5/64", "--service-iface", "eth0"},
                {"not an IPv6 address", "--service-address", "::ffff:10.0.0.5/64", "--service-iface", "eth0"},
                {"not an IPv4 or IPv6 address", "--service-address", "fd00::zz/64", "--service-iface", "eth0"},
                {"not an IPv4 or IPv6 address", "--service-address", "host.example/24", "--service-iface", "eth0"},
                {"interface name", "--service-address", "10.0.0.5/24", "--service-iface", "eth0;reboot"},
        };
        for (String[] c : cases) {
            String[] args = java.util.Arrays.copyOfRange(c, 1, c.length);
            Run r = backup(args);
            assertThat(r.code()).as(String.join(" ", args) + ": " + r.err()).isEqualTo(2);
            assertThat(r.err().lines()).as(r.err()).hasSize(1);
            assertThat(r.err()).contains(c[0]).doesNotContain("Exception");
        }
    }

    @Test
    @Timeout(60) // a check that let a case through would try to protect pid 1
    void protectTakesTheSameSpellingOnlyWithThePacketHold() {
        String[][] cases = {
                {"needs --hold packets", "--service-address", "10.0.0.5/24"},
                {"needs --hold packets", "--hold", "proxy", "--service-address", "10.0.0.5/24"},
                {"expected IP/PREFIX", "--hold", "packets", "--service-address", "10.0.0.5"},
                {"must be 1-32", "--hold", "packets", "--service-address", "10.0.0.5/0"},
                {"must be 1-128", "--hold", "packets", "--service-address", "fd00::5/129"},
                {"cannot be a service address", "--hold", "packets", "--service-address", "fe80::5/64"},
                {"Unknown option", "--hold", "packets", "--service-address", "10.0.0.5/24", "--service-iface", "eth0"},
        };
        for (String[] c : cases) {
            String[] args = java.util.Arrays.copyOfRange(c, 1, c.length);
            Run r = protect(args);
            assertThat(r.code()).as(String.join(" ", args) + ": " + r.err()).isEqualTo(2);
            assertThat(r.err()).as(r.err()).contains(c[0]).doesNotContain("Exception");
            if (!c[0].equals("Unknown option")) assertThat(r.err().lines()).as(r.err()).hasSize(1);
        }
    }
}
