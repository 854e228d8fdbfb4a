"""Turn the command line's INPUTs (files, folders, glob patterns) into the list of files to analyse."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

VIDEO_EXTENSIONS = {".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp", ".ts", ".mts"}
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".tif", ".tiff", ".bmp", ".heic", ".heif", ".avif"}


@dataclass(frozen=True)
class Input:
    path: str  # as given, or as found under a given folder
    kind: str  # "video", "image", or "" for a file that is neither (reported, not analysed)


def kind_of(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    return ""


def discover(inputs: list[str], exclude: str | Path | None = None) -> tuple[list[Input], list[str]]:
    """Files in command-line order (folders walked recursively, sorted; globs expanded, sorted), each once.

    Returns the files and the INPUTs that matched nothing (reported by the caller).
    Hidden files and folders under a given folder are left out (.DS_Store, .git ...), and so is the
    `exclude` folder (the batch's own output, when it lies inside an input folder).
    """
    found: list[Input] = []
    seen: set[str] = set()
    missing: list[str] = []
    excluded = os.path.realpath(exclude) if exclude is not None else None

    def add(path: str) -> None:
        key = os.path.realpath(path)
        if key not in seen and not (excluded and key.startswith(excluded + os.sep)):
            seen.add(key)
            found.append(Input(path, kind_of(path)))

    for item in inputs:
        if os.path.isdir(item):
            for root, dirs, files in os.walk(item):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and os.path.realpath(os.path.join(root, d)) != excluded)
                for name in sorted(files):
                    if not name.startswith("."):
                        add(os.path.join(root, name))
        elif os.path.isfile(item):
            add(item)
        elif glob.has_magic(item):
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                missing.append(item)
            for match in matches:
                if os.path.isfile(match):
                    add(match)
                elif os.path.isdir(match):
                    for sub in discover([match], exclude)[0]:
                        add(sub.path)
        else:
            missing.append(item)
    return found, missing
