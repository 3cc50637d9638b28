"""``python -m reasonrank_ir.train.mine``: mine training lists from an index into a resumable JSONL file.

    python -m reasonrank_ir.train.mine --index cranfield --output mined.jsonl --num-queries 50
    python -m reasonrank_ir.train.mine --index bright-biology --queries synthesise \\
        --model deepseek-reasoner --base-url https://api.deepseek.com --num-queries 200 --output syn.jsonl
"""
from __future__ import annotations

import sys

from reasonrank_ir.errors import cli_main
from reasonrank_ir.train.config import parse_settings, settings_parser
from reasonrank_ir.train.mine import MineSettings, mine_file


@cli_main
def main(argv: list[str] | None = None) -> int:
    parser = settings_parser(MineSettings, "python -m reasonrank_ir.train.mine",
                             "Mine 20-passage training lists from an index.")
    settings = parse_settings(MineSettings, parser, argv)
    outcome = mine_file(settings, progress=True)
    print(f"{outcome.written} lists written to {settings.output} ({outcome.existing} were already there)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
