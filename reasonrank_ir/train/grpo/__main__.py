"""``python -m reasonrank_ir.train.grpo``: GRPO as a YAML config (packaged: ``grpo``), flags and ``--set`` say.

    python -m reasonrank_ir.train.grpo --config grpo --set model=runs/sft/final
    accelerate launch --config_file ds_zero2.yaml -m reasonrank_ir.train.grpo --config ...   # multi-GPU
"""
from __future__ import annotations

import sys

from reasonrank_ir.train.grpo import GRPOSettings, train_grpo
from reasonrank_ir.train.trainer_cli import trainer_main


def main(argv: list[str] | None = None) -> int:
    return trainer_main(argv, "python -m reasonrank_ir.train.grpo", GRPOSettings, train_grpo)


if __name__ == "__main__":
    sys.exit(main())
