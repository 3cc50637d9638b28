"""``python -m reasonrank_ir.train.label``: label mined lists with a teacher LLM, resumably, optionally on Ray.

    python -m reasonrank_ir.train.label --input mined.jsonl --output labelled.jsonl \\
        --model deepseek-reasoner --base-url https://api.deepseek.com --concurrency 16 \\
        --price-input 0.55 --price-output 2.19
"""
from __future__ import annotations

import sys

from reasonrank_ir.errors import cli_main
from reasonrank_ir.pipeline import ray_pool
from reasonrank_ir.train.config import parse_settings, settings_parser
from reasonrank_ir.train.label import LabelSettings, label_file


@cli_main
def main(argv: list[str] | None = None) -> int:
    parser = settings_parser(LabelSettings, "python -m reasonrank_ir.train.label",
                             "Label mined lists with a teacher LLM (resumable).")
    ray_pool.add_arguments(parser)
    ray, argv = ray_pool.parse_known(argv)
    outcome = label_file(parse_settings(LabelSettings, parser, argv), ray, progress=True)
    print(outcome.stats.summary() + f" ({outcome.existing} lists were already labelled)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
