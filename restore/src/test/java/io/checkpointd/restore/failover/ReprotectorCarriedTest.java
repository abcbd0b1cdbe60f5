package io.checkpointd.restore.failover;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Which of the old primary's options a re-protecting primary takes over. */
class ReprotectorCarriedTest {
    @Test
    void theHoldAndTheBackupLossPolicyAreCarried() {
        assertThat(Reprotector.carried("--hold packets --on-backup-loss continue"))
                .containsExactly("--hold", "packets", "--on-backup-loss", "continue");
        assertThat(Reprotector.carried("")).isEmpty();
        assertThat(Reprotector.carried(null)).isEmpty();
    }

    @Test
    void anythingElseIsLeftOut() {
        assertThat(Reprotector.carried("--hold bytes --run-dir /etc --hold packets --on-backup-loss")).isEqualTo(List.of("--hold", "packets"));
        assertThat(Reprotector.carried("--backup 10.0.0.9:7070 --generation 99")).isEmpty();
    }
}
