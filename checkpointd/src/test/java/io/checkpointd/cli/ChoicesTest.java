package io.checkpointd.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.linux.track.Trackers;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class ChoicesTest {
    /** --tracker offers exactly auto and the trackers the linux module can open, by the names it knows them by. */
    @Test
    void trackerWordsAreAutoAndTheTrackerKinds() {
        List<String> expected = new ArrayList<>(List.of("auto"));
        expected.addAll(Trackers.KINDS);
        assertThat(Arrays.stream(Choices.Tracker.values()).map(Choices.Tracker::toString)).containsExactlyElementsOf(expected);
    }

    /** picocli parses the hyphenated word into the constant, and rejects another word naming the option and the value. */
    @Test
    void picocliParsesTheWords() {
        ProtectCommand p = new ProtectCommand();
        new CommandLine(p).parseArgs("1", "--backup", "127.0.0.1:7070", "--tracker", "soft-dirty", "--engine", "full",
                "--on-exit", "stop", "--on-backup-loss", "continue");
        assertThat(p.tracker).isEqualTo(Choices.Tracker.SOFT_DIRTY);
        assertThat(p.engine).isEqualTo(Choices.Engine.FULL);
        assertThat(p.onExit).isEqualTo(Choices.OnExit.STOP);
        assertThat(p.onBackupLoss).isEqualTo(Choices.OnBackupLoss.CONTINUE);
        ProtectCommand d = new ProtectCommand();
        new CommandLine(d).parseArgs("1", "--backup", "127.0.0.1:7070");
        assertThat(List.of(d.tracker, d.engine, d.onExit, d.onBackupLoss))
                .containsExactly(Choices.Tracker.AUTO, Choices.Engine.INCREMENTAL, Choices.OnExit.FAILOVER, Choices.OnBackupLoss.STALL);
        StringWriter err = new StringWriter();
        CommandLine cl = new CommandLine(new ProtectCommand());
        cl.setErr(new PrintWriter(err));
        assertThat(cl.execute("1", "--backup", "127.0.0.1:7070", "--on-backup-loss", "maybe")).isEqualTo(2);
        assertThat(err.toString()).contains("--on-backup-loss").contains("'maybe'");
    }
}
