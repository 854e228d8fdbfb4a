"""`python -m fer_app batch`: analyse many videos and photos, one file per Dask task, resumable.

fer_app/__main__.py calls `add_command(sub)`. Dask is imported only when the command runs.
See docs/batch.md.
"""

from __future__ import annotations

import json
import sys
import time

from fer_app.detect import detector_names
from fer_app.errors import FerError


def add_command(sub) -> None:
    p = sub.add_parser("batch", help="analyse many videos and photos (a local Dask cluster, or a running one); resumable")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders (searched recursively) or glob patterns")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder: files table, timeline/, faces/, manifest")
    p.add_argument("--engine", choices=("local", "dask"), default=None,
                   help="local: a Dask cluster on this machine (the default); dask: attach to --address / --scheduler-file")
    p.add_argument("--address", help="a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (implies --engine dask)")
    p.add_argument("--scheduler-file", help="the JSON file `dask scheduler --scheduler-file` wrote (implies --engine dask)")
    p.add_argument("--workers", type=int, default=None, help="local engine: worker processes (default: the number of cores)")
    p.add_argument("--model", help="an ONNX model file instead of the shipped ones (implies --fast)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--accurate", dest="accurate", action="store_true", default=None,
                      help="the accurate mode for videos too (photos get it by default)")
    mode.add_argument("--fast", dest="accurate", action="store_false",
                      help="the fast model for photos too (videos get it by default)")
    p.add_argument("--detector", choices=detector_names(), metavar="NAME",
                   help=f"the face detector ({', '.join(detector_names())}); default: the one measured best for "
                        "each kind (see `image --help`)")
    p.add_argument("--format", choices=("parquet", "csv"), default="parquet", help="output tables' format (default: parquet)")
    p.add_argument("--retry-errors", action="store_true", help="analyse again the files that failed in an earlier run")
    p.add_argument("--json", action="store_true", help="print one JSON summary object at the end")
    p.set_defaults(func=run)


def run(args) -> int:
    try:
        from fer_app.batch import cluster
        from fer_app.batch.output import ResultStore
        from fer_app.batch.runner import Options, run_batch, summary
    except ImportError as e:
        raise FerError(f"batch needs Dask and pyarrow ({e.name} is missing): pip install -r requirements-batch.txt") from None
    from fer_app.batch.inputs import discover
    from fer_app.batch.progress import BatchProgress
    from fer_app.batch.settings import settings_for

    remote = args.address or args.scheduler_file
    if args.engine == "dask" and not remote:
        raise FerError("--engine dask needs --address or --scheduler-file")
    if args.engine == "local" and remote:
        raise FerError("--address / --scheduler-file attach to a running cluster: leave out --engine local")
    if args.accurate and args.model:
        raise FerError("--accurate uses the shipped ensemble: leave out --model")
    if args.workers is not None and args.workers < 1:
        raise FerError("--workers must be at least 1")
    if args.workers is not None and remote:
        raise FerError("--workers sets the local cluster's size: a running cluster has its own workers")

    inputs, missing = discover(args.inputs, exclude=args.out)
    for item in missing:
        print(f"note: {item}: no such file or folder (or the pattern matched nothing)", file=sys.stderr)
    if not inputs:
        raise FerError("no files to analyse")
    store = ResultStore(args.out, args.format)
    options = Options(accurate=args.accurate, model=args.model, retry_errors=args.retry_errors, detector=args.detector)
    workers = args.workers or cluster.default_workers()
    started = time.perf_counter()
    bar = BatchProgress(len(inputs)) if sys.stderr.isatty() or not args.json else None
    try:
        with cluster.open_client(args.address, args.scheduler_file, workers) as client:
            kinds = sorted({i.kind for i in inputs if i.kind})
            client.register_plugin(cluster.EngineWorkerPlugin([settings_for(k, args.accurate, args.model, args.detector) for k in kinds]))
            workers = len(client.scheduler_info(n_workers=-1)["workers"])
            tally = run_batch(client, inputs, store, options, progress=bar)
    finally:
        if bar is not None:
            bar.finish()
        files_table = store.write_files_table()
        store.close()
    result = summary(tally, time.perf_counter() - started, store, files_table, workers)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        c = result["counts"]
        print(f"{result['total']} files: {c['ok']} ok, {c['error']} errors, {c['duplicate']} duplicates, "
              f"{result['skipped_done_before']} done before; {result['media_s_per_wall_s']} media s per wall s")
        print(f"results: {files_table}")
    return 1 if result["counts"]["error"] else 0
