"""YAML configs for the training CLIs, overridable from the command line.

Flat keys (mine, label) become argparse defaults, so an explicit flag always wins; nested sections
(sft, grpo) are overridden with ``--set section.key=value`` (values parsed as YAML: ``1e-5``,
``true``, ``[q_proj, v_proj]``).
"""
from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reasonrank_ir.backends.base import Backend
from reasonrank_ir.errors import ReasonRankError, close_matches


def find_config(name_or_path: str | Path) -> Path:
    """A YAML file, or the name of a packaged config (``sft``, ``grpo``: the paper's settings)."""
    from importlib.resources import files

    path = Path(name_or_path)
    if path.is_file():
        return path
    packaged = Path(str(files("reasonrank_ir.train") / "configs"))
    known = sorted(p.stem for p in packaged.glob("*.yaml"))
    if len(path.parts) == 1 and path.stem in known:
        return packaged / f"{path.stem}.yaml"
    raise ReasonRankError(f"Config file not found: {path} (packaged configs: {', '.join(known)})."
                          + close_matches(path.stem, known))


def read_config(name_or_path: str | Path) -> dict[str, Any]:
    import yaml

    from reasonrank_ir.io import read_text

    path = find_config(name_or_path)
    try:
        data = yaml.safe_load(read_text(path)) or {}
    except yaml.YAMLError as error:
        raise ReasonRankError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ReasonRankError(f"{path} must hold a YAML mapping of settings.")
    return data


def parse_with_config(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``argv`` with the keys of ``--config FILE`` as defaults (flags given explicitly win)."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    known, _ = pre.parse_known_args(argv)
    if known.config:
        settings = {k.replace("-", "_"): v for k, v in read_config(known.config).items()}
        dests = {a.dest for a in parser._actions}
        unknown = [k for k in settings if k not in dests]
        if unknown:
            raise ReasonRankError(f"{known.config}: unknown setting {unknown[0]!r}.{close_matches(unknown[0], dests)}")
        parser.set_defaults(**settings)
    return parser.parse_args(argv)


def apply_overrides(config: Mapping[str, Any], assignments: Sequence[str]) -> dict[str, Any]:
    """``config`` with each ``a.b.c=value`` applied (a copy; nested sections are created as needed)."""
    import copy

    import yaml

    result = copy.deepcopy(dict(config))
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        if not sep or not key:
            raise ReasonRankError(f"--set expects key=value (e.g. training.learning_rate=1e-5), got {assignment!r}.")
        node = result
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ReasonRankError(f"--set {key}: {part!r} is a value, not a section.")
            node = child
        # YAML 1.1 reads no/yes/on/off as booleans; trl's "save_strategy=no" must stay a string.
        word = raw.strip().lower() in ("no", "yes", "on", "off", "y", "n")
        node[parts[-1]] = raw.strip() if word else _scalar(yaml.safe_load(raw)) if raw else None
    return result


def _scalar(value: Any) -> Any:
    """YAML 1.1 reads ``1e-5`` as a string; a learning rate written that way must still be a float."""
    if isinstance(value, str):
        try:
            return float(value) if any(c.isdigit() for c in value) else value
        except ValueError:
            return value
    return value


def teacher_options(parser: argparse.ArgumentParser) -> None:
    """The teacher flags mine and label share (an OpenAI-compatible server)."""
    group = parser.add_argument_group("teacher (OpenAI-compatible server)")
    group.add_argument("--model", help="teacher model name, e.g. deepseek-reasoner")
    group.add_argument("--base-url", action="append", dest="base_urls",
                       help="server URL; repeat to spread requests over several servers")
    group.add_argument("--api-key", help="default: $OPENAI_API_KEY")
    group.add_argument("--concurrency", type=int, default=8)
    group.add_argument("--max-retries", type=int, default=5)
    group.add_argument("--timeout", type=float, default=600.0)
    group.add_argument("--max-tokens", type=int, default=16384)
    group.add_argument("--temperature", type=float, default=0.6)


def teacher_backend(args: argparse.Namespace) -> Backend:
    from reasonrank_ir.backends.openai import OpenAIBackend

    if not args.model or not args.base_urls:
        raise ReasonRankError("The teacher needs --model and --base-url (e.g. --base-url https://api.deepseek.com).")
    urls = [args.base_urls] if isinstance(args.base_urls, str) else args.base_urls
    return OpenAIBackend(args.model, urls, api_key=args.api_key, concurrency=args.concurrency,
                         max_retries=args.max_retries, timeout=args.timeout)
