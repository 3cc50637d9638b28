"""Where experiment YAMLs are found by name, and reading one into a validated ``Experiment``."""
from __future__ import annotations

import os
from pathlib import Path

from reasonrank_ir.errors import ReasonRankError, unknown
from reasonrank_ir.experiments.config import Experiment, parse_experiment


def _experiment_folders() -> list[Path]:
    """Where names are looked up: ``experiments/`` of the current folder, then the packaged YAMLs."""
    from importlib.resources import files

    return [Path.cwd() / "experiments", Path(str(files("reasonrank_ir.experiments") / "configs"))]


def experiment_names() -> dict[str, Path]:
    """Every experiment known by name (a local ``experiments/NAME.yaml`` hides a packaged one)."""
    found: dict[str, Path] = {}
    for folder in _experiment_folders():
        if folder.is_dir():
            for path in sorted(folder.glob("*.yaml")):
                found.setdefault(path.stem, path)
    return found


def find_experiment(name_or_path: str | os.PathLike[str]) -> Path:
    """An experiment YAML by path, or by name (``bright-oracle``) from any folder."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    known = experiment_names()
    name = path.name.removesuffix(".yaml")
    if name in known and (len(path.parts) == 1 or path.parent.name == "experiments"):
        return known[name]
    raise ReasonRankError(unknown("experiment", str(name_or_path), known, near=name,
                                  hint="not a file, nor a name of python -m reasonrank_ir.experiments list"))


def load_experiment(name_or_path: str | os.PathLike[str]) -> Experiment:
    """Read and validate an experiment YAML; raises ReasonRankError naming the file and the bad key."""
    import yaml

    from reasonrank_ir.io import read_text

    path = find_experiment(name_or_path)
    try:
        data = yaml.safe_load(read_text(path))
    except yaml.YAMLError as error:
        raise ReasonRankError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    return parse_experiment(data, path)
