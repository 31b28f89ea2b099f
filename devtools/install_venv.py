"""Build or repair the project's virtualenv from the hash-locked requirements.

Run by `make` with the machine's own Python (stdlib only, nothing installed yet):

1. Keep `.venv` only if it is whole: its interpreter starts and its installer is the
   pinned one. Anything else (a half-built venv, a pip upgraded under an old venv, another
   Python) is deleted and created anew; `python -m venv` is never run over an existing one.
2. The interpreter's bundled pip, whatever its age, installs just the pinned installer
   (`requirements/installer.lock`: uv and pip, by version and hash, no dependencies).
3. That installer makes the venv exactly the locks (`uv pip sync --require-hashes`):
   missing packages added, wrong versions replaced, strays removed, every file hash-checked,
   and compiled to bytecode once here: a process never writes its own `.pyc` files where
   PYTHONDONTWRITEBYTECODE is set (as on our machines), so without this every start of the
   service, a worker or the CLI compiled LiteLLM, LangGraph and SQLAlchemy again (~3 s).
4. The project itself, editable, without dependencies; and the checkout's development
   tools (`devtools/`, not part of the package) on the venv's path.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements"
INSTALLER_LOCK = REQUIREMENTS / "installer.lock"
# Order matters only for reading: build tools, the service, then test and lint tools.
LOCKS = ("installer.lock", "build.lock", "main.lock", "dev.lock")


def pinned_version(package: str, lock: Path = INSTALLER_LOCK) -> str:
    """The `==` version a lock file pins for `package`."""
    prefix = f"{package}=="
    for line in lock.read_text().splitlines():
        if line.startswith(prefix):
            return line[len(prefix) :].split()[0]
    raise SystemExit(f"{lock.name} pins no {package}")


def say(message: str) -> None:
    print(f"install: {message}", flush=True)


def run(*args: str | Path, env: dict[str, str] | None = None) -> None:
    subprocess.run([str(a) for a in args], check=True, env=env)


def output_of(*args: str | Path) -> str | None:
    """What a command prints, or None when it cannot run or fails."""
    try:
        done = subprocess.run(
            [str(a) for a in args], capture_output=True, text=True, timeout=60, check=False
        )
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def venv_problem(venv: Path, python: str) -> str | None:
    """Why `venv` cannot be reused as it is, or None when it can."""
    if not (venv / "pyvenv.cfg").is_file():
        return "no venv"
    want = output_of(python, "-c", "import sys; print(sys.version_info[:2])")
    have = output_of(venv / "bin" / "python", "-c", "import sys; print(sys.version_info[:2])")
    if have is None:
        return "its python does not start"
    if have != want:
        return f"its python is {have}, {python} is {want}"
    uv = output_of(venv / "bin" / "uv", "--version")
    if uv is None:
        return "no installer in it (an earlier install stopped early)"
    if uv.split()[1:2] != [pinned_version("uv")]:
        return f"its installer is {uv}, the lock pins uv {pinned_version('uv')}"
    return None


def create_venv(venv: Path, python: str) -> None:
    """A new venv holding only the pinned installer, put there by the bundled pip."""
    if venv.exists() or venv.is_symlink():
        shutil.rmtree(venv) if venv.is_dir() and not venv.is_symlink() else venv.unlink()
    run(python, "-m", "venv", venv)
    # --no-deps: uv and pip need nothing else; the bundled pip resolves nothing.
    run(
        venv / "bin" / "python",
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--require-hashes",
        "-r",
        INSTALLER_LOCK,
    )


def sync(venv: Path) -> None:
    """Make the venv exactly the locks, every file hash-checked, then add the project."""
    uv = venv / "bin" / "uv"
    python = venv / "bin" / "python"
    env = {**os.environ, "UV_NO_PROGRESS": "1"}
    locks = [REQUIREMENTS / name for name in LOCKS]
    run(
        uv,
        "pip",
        "sync",
        "--quiet",
        "--python",
        python,
        "--require-hashes",
        "--compile-bytecode",
        *locks,
        env=env,
    )
    run(
        uv,
        "pip",
        "install",
        "--quiet",
        "--python",
        python,
        "--no-deps",
        "--no-build-isolation",
        "--editable",
        ROOT,
        env=env,
    )
    add_checkout_path(python)


CHECKOUT_PTH = "routegraph_checkout.pth"


def add_checkout_path(python: Path) -> None:
    """The checkout's development tools (`devtools/`, never part of the installed package)
    importable by the venv's Python from anywhere: `python benchmarks/x.py`, `python -m
    devtools ...`. One path line in site-packages, as an editable install writes."""
    site = output_of(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    if site is None:
        raise SystemExit(f"{python} cannot tell its site-packages")
    (Path(site) / CHECKOUT_PTH).write_text(f"{ROOT}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv")
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args(argv)
    venv: Path = args.venv.resolve()
    started = time.monotonic()
    problem = venv_problem(venv, args.python)
    if problem is not None:
        say(f"building {venv} ({problem})")
        create_venv(venv, args.python)
    else:
        say(f"reusing {venv}")
    sync(venv)
    say(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
