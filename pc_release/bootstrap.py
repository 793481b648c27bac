"""Set-up on a fresh Debian machine, then run the tests or the demo: `python3 -m pc_release.bootstrap test|demo`.

Standard library only: it runs before anything is installed. It creates `.venv`, installs pc-release with its
`dev` extra, installs Debian's chromium and postgresql where they are missing, installs the sample frontend's
Node packages, then hands over to pytest or the demo inside the venv.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
NODE_DIR = ROOT / "pc_release" / "sandbox" / "node"


def _run(*cmd: str, **kwargs) -> None:
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kwargs)


def _postgres_present() -> bool:
    return shutil.which("pg_ctl") is not None or any(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))


def ensure_debian_packages() -> None:
    missing = []
    if not Path("/usr/bin/chromium").exists():
        missing.append("chromium")
    if not _postgres_present():
        missing.append("postgresql")
    if shutil.which("node") is None or shutil.which("npm") is None:
        missing += ["nodejs", "npm"]
    if shutil.which("git") is None:
        missing.append("git")
    if not missing:
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    _run(*sudo, "apt-get", "update", "-q", env=env)
    _run(*sudo, "apt-get", "install", "-y", "-q", *missing, env=env)


def ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        _run(sys.executable, "-m", "venv", str(VENV))
    stamp = VENV / ".pc-release-installed"
    pyproject = (ROOT / "pyproject.toml").read_bytes()
    if not stamp.exists() or stamp.read_bytes() != pyproject:
        _run(str(python), "-m", "pip", "install", "-q", "--upgrade", "pip")
        _run(str(python), "-m", "pip", "install", "-q", "-e", f"{ROOT}[dev]")
        stamp.write_bytes(pyproject)
    return python


def ensure_node_modules() -> None:
    lock = NODE_DIR / "package-lock.json"
    if not lock.exists():
        return
    stamp = NODE_DIR / "node_modules" / ".pc-release-lock"
    if stamp.exists() and stamp.read_bytes() == lock.read_bytes():
        return
    # PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: browsers come from Debian, never downloaded.
    env = dict(os.environ, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1")
    _run("npm", "ci", "--no-audit", "--no-fund", "--prefix", str(NODE_DIR), env=env)
    stamp.write_bytes(lock.read_bytes())


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"test", "demo", "ui", "setup"}:
        print("usage: python3 -m pc_release.bootstrap test|demo|ui|setup [args...]", file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    ensure_debian_packages()
    python = ensure_venv()
    ensure_node_modules()
    env = dict(os.environ, PC_RELEASE_NODE_MODULES=str(NODE_DIR / "node_modules"))
    if command == "test":
        cmd = [str(python), "-m", "pytest", "-n", "2", "-q", *rest]
    elif command == "setup":
        return 0
    else:
        cmd = [str(python), "-m", "pc_release.sandbox.demo", command, *rest]
    print("+ " + " ".join(cmd), flush=True)
    # exec, so Ctrl-C and SIGTERM reach pytest or the demo directly and they shut down cleanly.
    os.chdir(ROOT)
    os.execve(cmd[0], cmd, env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
