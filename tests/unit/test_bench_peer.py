"""bench/peer.py: the paired whole-process comparison with the peer, run against a stand-in checkout
(the real peer is not in this repository; its timing is the benchmark's job, not a test's)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # bench/ lives at the repository root, outside the package

from bench import peer  # noqa: E402

STAND_IN = """import json, os, sys
from pathlib import Path
calls = Path(__file__).with_name("calls.jsonl")
with calls.open("a") as f:
    f.write(json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd(), "wandb": os.environ.get("WANDB_MODE")}) + "\\n")
"""


def test_pairs_alternate_and_each_tool_runs_its_own_recipe(tmp_path, capsys, monkeypatch):
    order = []  # which tool ran when; grokscope's side is a stand-in too (its command is tested below)
    monkeypatch.setattr(peer, "grokscope_command", lambda steps, out: [sys.executable, "-c", "pass"])
    timed = peer.timed
    monkeypatch.setattr(peer, "timed", lambda cmd, cwd, env: order.append("peer" if "--num_steps" in cmd else "grokscope")
                        or timed(cmd, cwd, env))
    checkout = tmp_path / "grokking-checkout"
    (checkout / "grokking").mkdir(parents=True)
    (checkout / "grokking" / "cli.py").write_text(STAND_IN)
    out = tmp_path / "peer.json"
    assert peer.main([str(checkout), "--steps", "3", "--pairs", "2", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert len(res["wall_s"]["peer"]) == len(res["wall_s"]["grokscope"]) == len(res["ratios"]) == 2
    assert all(t > 0 for ts in res["wall_s"].values() for t in ts)
    calls = [json.loads(line) for line in (checkout / "grokking" / "calls.jsonl").read_text().splitlines()]
    assert [c["argv"] for c in calls] == [["--num_steps", "3", "--device", "cpu"]] * 2
    assert order == ["peer", "grokscope", "grokscope", "peer"]
    assert all(c["wandb"] == "offline" and not c["cwd"].startswith(str(checkout)) for c in calls)
    assert "median ratio" in capsys.readouterr().out


def test_grokscope_side_evaluates_every_100_steps_and_never_stops_early():
    cmd = peer.grokscope_command(1000, Path("runs"))
    assert cmd[cmd.index("--preset") + 1] == "power2022"
    sets = {cmd[i + 1] for i, a in enumerate(cmd) if a == "--set"}
    assert sets == {"train.steps=1000", "train.eval_every=100", "train.eval_log_points=0", "train.stop_test_acc=1.01"}


def test_a_folder_that_is_not_the_peer_is_one_line_and_exit_2(tmp_path, capsys):
    assert peer.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "danielmamay/grokking" in err
