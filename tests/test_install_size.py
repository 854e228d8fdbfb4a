"""The slug measurement leaves out what Heroku leaves out and counts what tar writes."""

import subprocess

from benchmarks import install_size


def test_the_slug_holds_the_served_app_and_not_what_slugignore_names():
    names = {p.relative_to(install_size.ROOT).as_posix() for p in install_size.app_paths()}
    assert {"streamlit_app.py", "Procfile", "requirements.txt", "models/default.onnx", "fer_app/pipeline.py"} <= names
    assert "models/accurate/ensemble.json" in names
    assert not any(n.startswith(("tests/", "benchmarks/", "scripts/", "docs/")) for n in names)
    assert not any(n.endswith(".keras") for n in names)


def test_gzipped_size_is_what_tar_czf_writes(tmp_path):
    data = tmp_path / "data"
    (data / "pkg" / "__pycache__").mkdir(parents=True)
    (data / "pkg" / "mod.py").write_text("".join(f"value_{i} = {i * i}\n" for i in range(20000)))
    (data / "pkg" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(bytes(range(256)) * 400)
    entries = sorted(data.iterdir())

    tar_czf = len(subprocess.run(["tar", "czf", "-", "-C", str(data), "pkg"], check=True, capture_output=True).stdout)
    measured = install_size.gzipped_size(entries, data)
    assert abs(measured - tar_czf) < 0.02 * tar_czf
    assert install_size.installed_size(data) > 2 * measured  # source code compresses

    assert install_size.gzipped_size(entries, data, skip_pycache=True) < measured
    assert install_size.installed_size(data, skip_pycache=True) == (data / "pkg" / "mod.py").stat().st_size
