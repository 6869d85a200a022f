"""explorer.stuck: a run still at chance after its last epoch says so, with the likeliest cause."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from explorer.stuck import likely_cause, stuck_message


def metrics(loss: float, knn: float, epochs: int = 2) -> pd.DataFrame:
    rows = []
    for epoch in range(1, epochs + 1):
        rows.append({"epoch": epoch, "split": "train", "loss": loss + 0.01 * (epochs - epoch), "knn_accuracy": None})
        rows.append({"epoch": epoch, "split": "test", "loss": None, "knn_accuracy": knn})
    return pd.DataFrame(rows)


def test_a_2d_bce_run_of_2_epochs_at_ln_2_is_stuck_for_too_few_epochs():
    config = {"loss": "bce", "embedding_dim": 2, "epochs": 2, "lr": 1e-3}
    message = stuck_message(config, metrics(math.log(2) + 0.001, 0.52), 2)
    assert message.startswith("Stuck at chance: its BCE loss is still 0.694, ln 2 = 0.693")
    assert "test k-NN accuracy is 0.520, chance with 2 classes is 0.500" in message
    assert "too few epochs (2)" in message and "2-D embedding gives the BCE head little" in message


@pytest.mark.parametrize("config, loss, knn, n", [
    ({"loss": "bce", "epochs": 10}, 0.30, 0.95, 2),        # learned
    ({"loss": "contrastive", "epochs": 2}, 0.69, 0.80, 2),  # ln 2 means nothing for a contrastive loss
    ({"loss": "triplet", "epochs": 5}, 0.5, 0.40, 10),      # well above 1 / 10
])
def test_a_run_that_learned_is_not_stuck(config, loss, knn, n):
    assert stuck_message(config, metrics(loss, knn), n) is None


def test_knn_at_one_over_classes_is_stuck_and_a_running_run_is_not_judged():
    config = {"loss": "triplet", "epochs": 20, "lr": 0.5}
    message = stuck_message(config, metrics(1.0, 0.11), 10)
    assert "chance with 10 classes is 0.100" in message and "learning rate of 0.5 is large" in message
    assert stuck_message(config, metrics(1.0, 0.11), 10, state="running") is None


def test_the_cause_names_a_margin_unit_length_embeddings_cannot_reach():
    assert "margin 3.0 is beyond 2" in likely_cause({"normalize": True, "margin": 3.0, "epochs": 10})
    assert likely_cause({"epochs": 10, "lr": 1e-3}).startswith("the learning rate, or too few epochs")


def test_explorer_summary_says_a_run_is_stuck(tmp_path, capsys):
    from fakerun import make_fake_run

    from explorer.cli import main
    from training import rundir

    path = make_fake_run(tmp_path, "bce-stuck", loss="bce", separation=0.0)
    rows = rundir.read_metrics(path)
    rows.loc[rows["split"] == "train", "loss"] = math.log(2)
    rundir.write_metrics(path, rows.to_dict("records"))
    assert main(["summary", str(path)]) == 0
    out = capsys.readouterr().out
    assert "WARNING    Stuck at chance: its BCE loss is still 0.693" in out and "Likeliest cause: too few epochs (2)" in out
