"""Atomic writes: their temporary files, cleaning up after a killed save, checking a folder before the work."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from dcgan.files import TEMPORARY, atomic_write, check_writable, remove_stale_temporaries
from tests.helpers import make_read_only


def test_the_temporary_file_of_a_save_is_named_as_the_cleanup_expects(tmp_path):
    with atomic_write(tmp_path / "last.ckpt") as file:
        file.write(b"half")
        (temporary,) = tmp_path.iterdir()
        match = TEMPORARY.match(temporary.name)
        assert match and match["name"] == "last.ckpt" and int(match["pid"]) == os.getpid()
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def test_stale_temporaries_of_dead_processes_are_deleted_and_live_ones_kept(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    live = subprocess.Popen(["sleep", "60"])
    try:
        hour_ago = time.time() - 3600
        names = {
            f".last.ckpt.{dead.pid}.tmp": hour_ago,  # a save killed an hour ago: deleted
            f".step_0000004.ckpt.{dead.pid}.tmp": time.time(),  # just written (another machine?): kept
            f".last.ckpt.{live.pid}.tmp": hour_ago,  # a running process's save: kept
            f".generator.pt.{os.getpid()}.tmp": hour_ago,  # this process's: kept
            ".notes.tmp": hour_ago,  # not atomic_write's: kept
            "last.ckpt": hour_ago,
        }
        for name, mtime in names.items():
            (tmp_path / name).write_bytes(b"x")
            os.utime(tmp_path / name, (mtime, mtime))
        assert remove_stale_temporaries(tmp_path) == [tmp_path / f".last.ckpt.{dead.pid}.tmp"]
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(set(names) - {f".last.ckpt.{dead.pid}.tmp"})
    finally:
        live.kill()
        live.wait()


def test_check_writable_makes_the_folder_or_raises_what_a_save_would_meet(tmp_path, monkeypatch):
    assert check_writable(tmp_path / "a" / "b").is_dir()
    (tmp_path / "file").write_text("a file where a folder should be")
    with pytest.raises(NotADirectoryError, match="a file, not a folder"):
        check_writable(tmp_path / "file")
    with pytest.raises(NotADirectoryError):
        check_writable(tmp_path / "file" / "sub")
    (tmp_path / "ro").mkdir()
    make_read_only(tmp_path / "ro", monkeypatch)
    with pytest.raises(PermissionError):
        check_writable(tmp_path / "ro")
    assert list((tmp_path / "ro").iterdir()) == []  # the check leaves nothing behind
