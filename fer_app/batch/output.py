"""The batch's output folder: an append-only manifest, per-file part files, and files.parquet / files.csv.

  DIR/manifest.jsonl   one JSON line per finished file, appended, flushed and fsynced before the
                       next file counts as done: the durable record that resume reads
  DIR/timeline/        per-second rows of videos, one part file per analysed content (+ settings)
  DIR/faces/           per-face rows of photos, likewise
  DIR/files.parquet    one row per file (the newest record of each path), rewritten from the manifest

Part files are written under a hidden temporary name and renamed, and before
the manifest line that names them, so a driver killed at any moment leaves
either a finished file (part + line) or nothing that counts: a part without its
line is rewritten under the same name when the file is analysed again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa

from fer_app.labels import EMOTIONS

_MEANS = [pa.field(f"mean_{name}", pa.float64()) for name in EMOTIONS]
_PROBS = [pa.field(name, pa.float64()) for name in EMOTIONS]

FILES_SCHEMA = pa.schema(
    [
        pa.field("file", pa.string()),
        pa.field("sha256", pa.string()),
        pa.field("status", pa.string()),  # ok | error | duplicate
        pa.field("error", pa.string()),  # the CLI's one-line message; "" when ok
        pa.field("kind", pa.string()),  # video | image | "" (neither: reported as an error)
        pa.field("worker", pa.string()),  # the Dask worker's address
        pa.field("duplicate_of", pa.string()),  # for duplicates: the file analysed for this content
        pa.field("size_bytes", pa.int64()),
        pa.field("duration", pa.float64()),  # seconds of video decoded (videos)
        pa.field("width", pa.int64()),
        pa.field("height", pa.int64()),
        pa.field("frames_decoded", pa.int64()),
        pa.field("frames_analysed", pa.int64()),
        pa.field("faces_seen", pa.int64()),  # face observations (videos: summed over frames; photos: faces)
        pa.field("max_faces", pa.int64()),
        pa.field("tracks_seen", pa.int64()),
        pa.field("dominant", pa.string()),
        *_MEANS,
        pa.field("notes", pa.string()),
        pa.field("seconds", pa.float64()),  # wall time the worker spent on the file
        pa.field("worker_rss_mb", pa.float64()),  # the worker's resident memory after the file
        pa.field("worker_peak_rss_mb", pa.float64()),  # the worker process's peak resident memory so far
        pa.field("model", pa.string()),
        pa.field("model_sha256", pa.string()),
        pa.field("detector", pa.string()),  # the face detector that ran (fer_app.detect)
        pa.field("settings_hash", pa.string()),
        pa.field("finished_at", pa.string()),  # UTC, ISO 8601
        pa.field("mtime_ns", pa.int64()),  # with size_bytes: lets a resume skip re-hashing unchanged files
    ]
)

_KEYS = [pa.field("file", pa.string()), pa.field("sha256", pa.string()), pa.field("settings_hash", pa.string())]
TIMELINE_SCHEMA = pa.schema(
    [*_KEYS, pa.field("second", pa.int64()), pa.field("frames", pa.int64()), pa.field("faces", pa.int64()), *_PROBS,
     pa.field("dominant", pa.string())]
)
FACES_SCHEMA = pa.schema(
    [*_KEYS, pa.field("face", pa.int64()), pa.field("x", pa.int64()), pa.field("y", pa.int64()), pa.field("w", pa.int64()),
     pa.field("h", pa.int64()), pa.field("emotion", pa.string()), pa.field("confidence", pa.float64()), *_PROBS]
)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _table(rows: list[dict], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist([{f.name: row.get(f.name) for f in schema} for row in rows], schema=schema)


def _write_table(table: pa.Table, path: Path, fmt: str) -> None:
    """Write to a hidden temporary name in the same folder, fsync, rename over `path`."""
    tmp = path.with_name(f".{path.name}.tmp")
    if fmt == "csv":
        import pyarrow.csv as pcsv

        pcsv.write_csv(table, str(tmp))
    else:
        import pyarrow.parquet as pq

        pq.write_table(table, str(tmp))
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


class ResultStore:
    def __init__(self, out_dir: str | Path, fmt: str = "parquet"):
        self.dir = Path(out_dir)
        self.fmt = fmt
        self.dir.mkdir(parents=True, exist_ok=True)
        self.manifest_path = self.dir / "manifest.jsonl"
        self.latest: dict[str, dict] = {}  # path -> its newest record
        self._load()
        self._manifest = open(self.manifest_path, "a", encoding="utf-8")  # noqa: SIM115 (open for the store's life)

    def _load(self) -> None:
        if not self.manifest_path.exists():
            return
        with open(self.manifest_path, "rb+") as f:
            data = f.read()
            if data and not data.endswith(b"\n"):
                # The driver died inside a write: the partial line never counted. Cut it off so that the
                # next record starts on a line of its own.
                cut = data.rfind(b"\n") + 1
                f.truncate(cut)
                data = data[:cut]
        for line in data.decode("utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            self.latest[record["file"]] = record

    def part_name(self, sha256: str, settings_hash: str) -> str:
        return f"{sha256[:24]}-{settings_hash}.{self.fmt}"

    def record(self, row: dict, timeline: list[dict] = (), faces: list[dict] = ()) -> None:
        """Make one finished file durable: its parts first, then its manifest line (fsynced)."""
        keys = {"file": row["file"], "sha256": row["sha256"], "settings_hash": row["settings_hash"]}
        for folder, rows, schema in (("timeline", timeline, TIMELINE_SCHEMA), ("faces", faces, FACES_SCHEMA)):
            if rows:
                (self.dir / folder).mkdir(exist_ok=True)
                table = _table([keys | r for r in rows], schema)
                _write_table(table, self.dir / folder / self.part_name(row["sha256"], row["settings_hash"]), self.fmt)
        clean = {f.name: row.get(f.name) for f in FILES_SCHEMA}
        self._manifest.write(json.dumps(clean) + "\n")
        self._manifest.flush()
        os.fsync(self._manifest.fileno())
        self.latest[row["file"]] = clean

    def write_files_table(self) -> Path:
        path = self.dir / f"files.{self.fmt}"
        _write_table(_table(list(self.latest.values()), FILES_SCHEMA), path, self.fmt)
        return path

    def close(self) -> None:
        self._manifest.close()


def read_table(path: str | Path, schema: pa.Schema | None = None) -> pa.Table:
    """A files table, or a timeline/ or faces/ folder of parts, as one table (Parquet or CSV, by the names)."""
    import pyarrow.dataset as ds

    path = Path(path)
    fmt = "csv" if (path.suffix == ".csv" or (path.is_dir() and any(path.glob("*.csv")))) else "parquet"
    if fmt == "csv" and schema is not None:
        import pyarrow.csv as pcsv

        convert = pcsv.ConvertOptions(column_types=schema, strings_can_be_null=False)
        return ds.dataset(str(path), format=ds.CsvFileFormat(convert_options=convert), schema=schema).to_table()
    return ds.dataset(str(path), format=fmt, schema=schema).to_table()
