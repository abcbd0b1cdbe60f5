package io.checkpointd.demo.disk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The command line shared by the data-dir test services. */
class LineServerTest {
    @Test
    void parsesEveryOptionAndDefaultsTheRest() {
        assertThat(LineServer.Args.parse("--host", "0.0.0.0", "--port", "7000", "--port-file", "/tmp/p", "--dir", "/d"))
                .isEqualTo(new LineServer.Args("0.0.0.0", 7000, Path.of("/tmp/p"), Path.of("/d")));
        assertThat(LineServer.Args.parse("--dir", "/d")).isEqualTo(new LineServer.Args("127.0.0.1", 0, null, Path.of("/d")));
    }

    @Test
    void rejectsAMissingDirAnUnknownOptionAndAMissingValue() {
        assertThatThrownBy(() -> LineServer.Args.parse("--port", "1")).hasMessage("--dir is required");
        assertThatThrownBy(() -> LineServer.Args.parse("--dir", "/d", "--verbose", "1")).hasMessage("unknown option --verbose");
        assertThatThrownBy(() -> LineServer.Args.parse("--dir", "/d", "--port")).hasMessage("--port needs a value");
    }
}
