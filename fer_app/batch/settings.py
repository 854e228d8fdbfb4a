"""What a file is analysed with: the model mode per kind, the settings hash and the expected model identity.

Resume compares these with what the manifest recorded, so a file is analysed
again when its content, the settings or the model changed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

# Bump when a change to the engine changes results for the same file and settings.
RESULTS_VERSION = 1


@dataclass(frozen=True)
class Settings:
    kind: str  # "video" or "image"
    accurate: bool  # the accurate ensemble, else the fast model (or `model`)
    model: str | None = None  # an ONNX file instead of the shipped fast model
    detector: str | None = None  # the face detector that runs (a name from fer_app.detect; None: the default)

    def recognizer_kwargs(self) -> dict:
        """The arguments for fer_app.engine.make_recognizer: the one place a new engine option is passed through."""
        return {"still": self.kind == "image", "accurate": self.accurate, "model": self.model, "detector": self.detector}

    def digest(self) -> str:
        text = json.dumps(asdict(self) | {"version": RESULTS_VERSION}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def settings_for(kind: str, accurate: bool | None, model: str | None, detector: str | None = None) -> Settings:
    """The single-file commands' rule (fer_app.engine): photos accurate, videos fast, unless
    `accurate` (--accurate: True, --fast: False) or `model` (implies fast) say otherwise. The detector is
    recorded by the name that runs here (the default for the kind, or a stand-in for a missing one), so
    that a change of detector analyses the files again on resume."""
    from fer_app.detect import resolve_detector_name
    from fer_app.engine import accurate_default

    used, _ = resolve_detector_name(detector, still=kind == "image")
    if model:
        return Settings(kind, False, str(Path(model).resolve()), used)
    mode = accurate_default(kind == "image") if accurate is None else accurate
    return Settings(kind, mode, None, used)


def expected_model(settings: Settings) -> dict:
    """{"name", "sha256"} of the model files `settings` select, from the files alone (no session loaded);
    the same values fer_app.engine.model_identity gives for the loaded classifier. The ensemble's
    manifest (its TTA and temperature) is part of the settings digest below, not of this."""
    from fer_app.classify import DEFAULT_MODEL
    from fer_app.engine import _model_identity
    from fer_app.errors import ModelError

    if settings.accurate:
        from fer_app.ensemble import ACCURATE_MANIFEST

        if not ACCURATE_MANIFEST.exists():
            raise ModelError(f"{ACCURATE_MANIFEST}: the accurate mode's manifest is missing")
        spec = json.loads(ACCURATE_MANIFEST.read_text())
        return _model_identity(tuple(str(ACCURATE_MANIFEST.parent / m) for m in spec["models"]), "accurate")
    path = Path(settings.model or DEFAULT_MODEL)
    if not path.exists():
        raise ModelError(f"{path}: model file not found")
    return _model_identity((str(path),), path.stem)


def settings_hash(settings: Settings) -> str:
    """The settings digest, with the accurate mode's manifest (TTA, temperature) folded in."""
    if not settings.accurate:
        return settings.digest()
    from fer_app.ensemble import ACCURATE_MANIFEST

    extra = hashlib.sha256(ACCURATE_MANIFEST.read_bytes()).hexdigest()
    return hashlib.sha256((settings.digest() + extra).encode()).hexdigest()[:16]
