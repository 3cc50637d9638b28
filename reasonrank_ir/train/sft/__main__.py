"""``python -m reasonrank_ir.train.sft``: SFT as a YAML config (packaged: ``sft``), flags and ``--set`` say.

    python -m reasonrank_ir.train.sft --config sft \\
        --set model=Qwen/Qwen2.5-7B-Instruct --set data=kept.jsonl --set run_dir=runs/sft
    accelerate launch --config_file ds_zero3.yaml -m reasonrank_ir.train.sft --config ...   # multi-GPU
"""
from __future__ import annotations

import sys

from reasonrank_ir.train.sft import SFTSettings, train_sft
from reasonrank_ir.train.trainer_cli import trainer_main


def main(argv: list[str] | None = None) -> int:
    return trainer_main(argv, "python -m reasonrank_ir.train.sft", SFTSettings, train_sft)


if __name__ == "__main__":
    sys.exit(main())
