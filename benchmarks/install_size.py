"""How big the deployed app is: the installed requirements and a Heroku-style slug.

Heroku's Python buildpack installs ``requirements.txt`` with plain ``pip install -r``
(bytecode compiled, as pip does by default) into a Python runtime under the app, drops
what ``.slugignore`` names and ships the whole as a gzipped tarball: the *slug*. Heroku
warns above 300 MB ("may affect boot time") and refuses above 500 MB, both compressed.

This script repeats that here: a fresh virtual environment of the running interpreter,
``pip install -r`` the requirements, then it measures

- the installed size of the environment, with and without ``__pycache__``;
- the compressed size of its site-packages, of the Python runtime (this interpreter's
  standard library, ``bin/pythonX.Y`` and ``libpython``), and of the app's tracked files
  less ``.slugignore``: together, the slug;
- the largest top-level entries of site-packages, compressed.

    python benchmarks/install_size.py                        # requirements.txt
    python benchmarks/install_size.py --requirements r.txt   # any other set, e.g. a floor
    python benchmarks/install_size.py --json
    python benchmarks/install_size.py --no-deps-requirements requirements-blazeface.txt
        # then `pip install --no-deps -r` that file, as bin/post_compile does on Heroku

Sizes are in MB (10^6 bytes) and MiB; gzip level 6, as ``tar czf`` writes.
"""

from __future__ import annotations

import argparse
import fnmatch
import io
import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEROKU_SOFT_LIMIT_MB = 300
HEROKU_HARD_LIMIT_MB = 500


class _CountingSink(io.RawIOBase):
    def __init__(self) -> None:
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        self.count += len(data)
        return len(data)


def gzipped_size(paths: list[Path], root: Path, skip_pycache: bool = False) -> int:
    """Bytes of a ``tar czf`` of ``paths`` (relative to ``root``), without writing it."""
    sink = _CountingSink()
    with tarfile.open(fileobj=sink, mode="w:gz", compresslevel=6) as tar:
        for path in paths:
            tar.add(path, arcname=str(path.relative_to(root)),
                    filter=(lambda info: None if skip_pycache and "__pycache__" in info.name else info))
    return sink.count


def installed_size(root: Path, skip_pycache: bool = False) -> int:
    total = 0
    for folder, dirs, files in os.walk(root):
        if skip_pycache:
            dirs[:] = [d for d in dirs if d != "__pycache__"]
        total += sum(os.lstat(os.path.join(folder, f)).st_size for f in files)
    return total


def make_environment(requirements: Path, where: Path, no_deps: Path | None = None) -> Path:
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "--no-input"]
    steps = [["-r", str(requirements)]] + ([["--no-deps", "-r", str(no_deps)]] if no_deps else [])
    for step in steps:
        done = subprocess.run([*pip, "install", "--quiet", "--no-cache-dir", *step], capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"pip install {' '.join(step)} failed:\n{done.stdout}{done.stderr}")
    return venv


def runtime_paths() -> tuple[Path, list[Path]]:
    """This interpreter's runtime as Heroku ships one: stdlib (no site-packages, no tests), binary, libpython."""
    base = Path(sys.base_prefix)
    stdlib = Path(sysconfig.get_paths(vars={"base": str(base), "platbase": str(base)})["stdlib"])
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    skipped = {"site-packages", "test", "idlelib", "tkinter", "turtledemo", "ensurepip"}
    paths = [p for p in stdlib.iterdir() if p.name not in skipped and not p.name.startswith("config-")]
    paths.append(base / "bin" / f"python{version}")
    paths += sorted((base / "lib").glob(f"libpython{version}*.so*"))
    return base, [p for p in paths if p.exists()]


def app_paths() -> list[Path]:
    """Tracked files of the repository less what ``.slugignore`` removes before the build."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, check=True, capture_output=True, text=True).stdout.split()
    slugignore = ROOT / ".slugignore"
    patterns = [line.strip().rstrip("/") for line in slugignore.read_text().splitlines()
                if line.strip() and not line.startswith("#")] if slugignore.exists() else []

    def ignored(name: str) -> bool:
        parts = name.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        return any(fnmatch.fnmatch(prefix, pattern.lstrip("/")) for pattern in patterns for prefix in prefixes)

    return [ROOT / name for name in tracked if not ignored(name) and (ROOT / name).is_file()]


def measure(requirements: Path, top: int = 12, no_deps: Path | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="install-size-") as tmp:
        venv = make_environment(requirements, Path(tmp), no_deps)
        site = next((venv / "lib").glob("python*/site-packages"))
        entries = sorted(site.iterdir())
        per_entry = {p.name: gzipped_size([p], site) for p in entries}
        largest = sorted(per_entry.items(), key=lambda kv: kv[1], reverse=True)[:top]
        site_gz = gzipped_size(entries, site)
        site_gz_no_pyc = gzipped_size(entries, site, skip_pycache=True)
        figures = {
            "requirements": str(requirements) + (f" + --no-deps {no_deps}" if no_deps else ""),
            "python": sys.version.split()[0],
            "installed_bytes": installed_size(venv),
            "installed_bytes_without_pycache": installed_size(venv, skip_pycache=True),
            "site_packages_gz_bytes": site_gz,
            "site_packages_gz_bytes_without_pycache": site_gz_no_pyc,
            "largest_gz_bytes": dict(largest),
            "largest_installed_bytes": {name: installed_size(site / name) if (site / name).is_dir()
                                        else (site / name).stat().st_size for name, _ in largest},
        }
    base, runtime = runtime_paths()
    figures["runtime_gz_bytes"] = gzipped_size(runtime, base)
    app = app_paths()
    figures["app_gz_bytes"] = gzipped_size(app, ROOT)
    figures["app_files"] = len(app)
    figures["slug_gz_bytes"] = figures["site_packages_gz_bytes"] + figures["runtime_gz_bytes"] + figures["app_gz_bytes"]
    return figures


def _mb(n: int) -> str:
    return f"{n / 1e6:7.1f} MB ({n / 2**20:6.1f} MiB)"


def report(f: dict) -> str:
    slug = f["slug_gz_bytes"]
    verdict = ("under Heroku's 300 MB soft limit" if slug <= HEROKU_SOFT_LIMIT_MB * 1e6 else
               "over Heroku's 300 MB soft limit (a warning: 'may affect boot time')"
               if slug <= HEROKU_HARD_LIMIT_MB * 1e6 else "over Heroku's 500 MB limit: the build is refused")
    lines = [
        f"requirements: {f['requirements']} (Python {f['python']})",
        f"installed environment                 {_mb(f['installed_bytes'])}",
        f"  without __pycache__                 {_mb(f['installed_bytes_without_pycache'])}",
        f"slug, compressed (tar.gz, level 6)    {_mb(slug)}  {verdict}",
        f"  site-packages                       {_mb(f['site_packages_gz_bytes'])}",
        f"    of which bytecode (__pycache__)   {_mb(f['site_packages_gz_bytes'] - f['site_packages_gz_bytes_without_pycache'])}",
        f"  Python runtime                      {_mb(f['runtime_gz_bytes'])}",
        f"  the app ({f['app_files']} files, .slugignore applied) {_mb(f['app_gz_bytes'])}",
        "largest entries of site-packages: compressed / installed",
    ]
    lines += [f"  {name:32s} {gz / 1e6:6.1f} MB / {f['largest_installed_bytes'][name] / 1e6:6.1f} MB"
              for name, gz in f["largest_gz_bytes"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requirements", type=Path, default=ROOT / "requirements.txt")
    parser.add_argument("--no-deps-requirements", type=Path, help="then also pip install --no-deps -r this file")
    parser.add_argument("--top", type=int, default=12, help="how many of the largest entries to list")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args(argv)
    if not args.requirements.is_file():
        parser.error(f"no such requirements file: {args.requirements}")
    if args.no_deps_requirements and not args.no_deps_requirements.is_file():
        parser.error(f"no such requirements file: {args.no_deps_requirements}")
    no_deps = args.no_deps_requirements.resolve() if args.no_deps_requirements else None
    figures = measure(args.requirements.resolve(), top=args.top, no_deps=no_deps)
    print(json.dumps(figures, indent=2) if args.json else report(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
