"""`make install`'s venv builder and lock check, run for real (the index, uv, a new venv)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devtools import install_venv, lock_check

pytestmark = pytest.mark.slow

LOCKS = install_venv.REQUIREMENTS
PYTHON = sys.executable  # the venv's python; its base is the machine's python3.11


def run_install(venv: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, str(Path(install_venv.__file__)), "--venv", str(venv), "--python", PYTHON],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def venv_versions(venv: Path, *packages: str) -> dict[str, str]:
    code = (
        "import json, sys; from importlib import metadata; "
        "print(json.dumps({p: metadata.version(p) for p in sys.argv[1:]}))"
    )
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code, *packages],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def locked(package: str) -> str:
    for lock in ("installer.lock", "main.lock", "dev.lock"):
        for line in (LOCKS / lock).read_text().splitlines():
            if line.startswith(f"{package}=="):
                return line.split("==", 1)[1].split()[0]
    raise AssertionError(f"{package} is in no lock")


def assert_whole(venv: Path) -> None:
    packages = ("pip", "uv", "httpx", "litellm", "fastapi", "pytest", "routegraph")
    have = venv_versions(venv, *packages)
    for package in packages[:-1]:
        assert have[package] == locked(package), (package, have)


def test_a_venv_whose_pip_was_upgraded_without_the_installer_is_rebuilt(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([PYTHON, "-m", "venv", str(venv)], check=True)
    # The state an old Makefile left: pip upgraded in place, the install then failed.
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps"]
    subprocess.run([*pip, "--require-hashes", "-r", str(LOCKS / "installer.lock")], check=True)
    (venv / "bin" / "uv").unlink()

    done = run_install(venv)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "no installer in it" in done.stdout
    assert_whole(venv)


def test_an_install_killed_half_way_is_repaired_by_the_next_run(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    child = subprocess.Popen(
        [PYTHON, str(Path(install_venv.__file__)), "--venv", str(venv), "--python", PYTHON],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    site = venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    # Kill the whole install (uv included) once uv has started filling site-packages.
    while time.monotonic() < deadline and child.poll() is None:
        if (venv / "bin" / "uv").exists() and len(list(site.glob("*.dist-info"))) > 4:
            break
        time.sleep(0.02)
    assert child.poll() is None, "the install finished before it could be interrupted"
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()

    done = run_install(venv)

    assert done.returncode == 0, done.stdout + done.stderr
    assert_whole(venv)


def test_the_locks_resolve_against_todays_index() -> None:
    ok, said = lock_check.check_locks(Path(PYTHON).parent / "uv", lock_check.DEFAULT_LOCKS)
    assert ok, said


def test_a_dependency_missing_from_the_locks_is_named(tmp_path: Path) -> None:
    # main.lock without h2, which litellm asks for through httpx[http2].
    text = (LOCKS / "main.lock").read_text()
    without_h2 = re.sub(r"(?m)^h2==.*\n(?:    .*\n)*", "", text)
    assert without_h2 != text
    broken = tmp_path / "main.lock"
    broken.write_text(without_h2)

    done = subprocess.run(
        [PYTHON, "-m", "devtools.lock_check", str(LOCKS / "build.lock"), str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 1
    assert "not pinned with a hash in the locks: h2" in done.stderr


def test_a_range_instead_of_a_pin_is_named(tmp_path: Path) -> None:
    loose = tmp_path / "loose.lock"
    digest = "d909fcccc110f8c7faf814ca82a9a4d816bc5a6dbfea25d6591d6985b8ba59ad"
    loose.write_text(f"httpx>=0.28 --hash=sha256:{digest}\n")

    ok, said = lock_check.check_locks(Path(PYTHON).parent / "uv", [loose])

    assert not ok
    assert lock_check.unpinned_packages(said) == ["httpx"], said
