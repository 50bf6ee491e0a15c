"""Files the kit writes: whole or not at all, with the umask's mode, no scratch files left by a
killed writer, and sets of files replaced together (issue 30, item 19)."""

import os
import subprocess
import sys
import time

import pandas as pd
import pytest

from helpers import download, evaluate


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_a_written_file_has_the_mode_the_umask_gives(tmp_path, umask_022):
    target = download.write_atomically(tmp_path / "table.csv", lambda p: p.write_text("x"))
    assert target.stat().st_mode & 0o777 == 0o644


def test_scratch_files_of_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    target = tmp_path / "table.csv"
    killed = subprocess.Popen([sys.executable, "-c", "pass"])
    killed.wait()  # a process id that is no longer running
    dead = tmp_path / f".table.csv.{killed.pid}.abcd1234.part"
    old = tmp_path / ".table.csv.k3j_x9ab.part"  # an older kit's scratch name, hours old
    alive = tmp_path / f".table.csv.{os.getpid()}.efgh5678.part"  # a writer still at work
    other = tmp_path / f".other.csv.{killed.pid}.abcd1234.part"
    for scratch in (dead, old, alive, other):
        scratch.write_text("partial")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    download.write_atomically(target, lambda p: p.write_text("whole"))
    assert not dead.exists() and not old.exists()
    assert alive.exists() and other.exists() and target.read_text() == "whole"


def test_predictions_and_top_lists_are_replaced_as_a_pair(small_folder, tmp_path, monkeypatch):
    args = ["--data-dir", str(small_folder), "--out", str(tmp_path), "--model", "bias"]
    assert evaluate.main(args) == 0
    before = {name: (tmp_path / name).read_bytes() for name in ("predictions.csv", "topk.csv")}
    write = pd.DataFrame.to_csv

    def fail_on_topk(self, path, *rest, **kwargs):
        if "topk" in str(path):
            raise OSError(28, "No space left on device")
        return write(self, path, *rest, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", fail_on_topk)
    try:
        code = evaluate.main([*args, "--seed", "7"])  # other numbers, and the disk fills up
    except OSError:
        code = None
    after = {name: (tmp_path / name).read_bytes() for name in before}
    assert after == before, "one file of the pair was replaced, the other not"
    assert code == 2
    assert not list(tmp_path.glob("*.part")) and not list(tmp_path.glob(".*.part"))
