"""The command line both trainers share: ``--config`` YAML, flags, ``--set`` overrides, the final checkpoint.

Interface layer (each trainer's ``__main__`` calls it); the trainers themselves are
:func:`reasonrank_ir.train.sft.train_sft` and :func:`reasonrank_ir.train.grpo.train_grpo`.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from reasonrank_ir.errors import cli_main
from reasonrank_ir.train.config import parse_settings, settings_parser
from reasonrank_ir.train.run import TrainerSettings, main_process

S = TypeVar("S", bound=TrainerSettings)


@cli_main
def trainer_main(argv: list[str] | None, prog: str, settings: type[S], train: Callable[[S], Path]) -> int:
    """Parse ``argv`` into ``settings``, train, and say where the final checkpoint is (once per launch)."""
    description = (sys.modules[train.__module__].__doc__ or "").split("\n\n")[0]
    parser = settings_parser(settings, prog, description, overrides=True)
    final = train(parse_settings(settings, parser, argv))
    if main_process():  # every process a launcher started gets here
        print(f"final checkpoint: {final}  (rerank with --model {final})")
    return 0
