"""Cold-start SFT of a listwise reasoning reranker with trl's SFTTrainer.

Each labelled list becomes the reranker's exact prompt plus the teacher's turn
``<think>reasoning</think> <answer>[a] > [b] ...</answer>``; the loss covers that turn only.
Defaults are the paper's (full fine-tune, lr 5e-6, cosine, warmup 0.1, 5 epochs, batch 1 x 8
accumulation, cut-off 23552 tokens, bf16 on GPU); LoRA through peft with a ``lora:`` section.

    python -m reasonrank_ir.train.sft --config sft \\
        --set model=Qwen/Qwen2.5-7B-Instruct --set data=kept.jsonl --set run_dir=runs/sft
    accelerate launch --config_file ds_zero3.yaml -m reasonrank_ir.train.sft --config ...   # multi-GPU
"""
from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from reasonrank_ir.train.run import TrainerSettings, import_trl


class SFTSettings(TrainerSettings):
    """SFT's settings; ``training`` over the paper's defaults (trl ``SFTConfig`` fields)."""

    DEFAULT_TRAINING: ClassVar[dict[str, Any]] = {
        "learning_rate": 5e-6,
        "lr_scheduler_type": "cosine",
        "warmup_steps": 0.1,  # a float below 1 is a share of the steps (transformers 5)
        "num_train_epochs": 5,
        "per_device_train_batch_size": 1,
        "gradient_accumulation_steps": 8,
        "max_length": 23552,
        "gradient_checkpointing": True,
        "logging_steps": 10,
        "save_strategy": "epoch",
        "save_only_model": True,
        "report_to": "none",
    }

    @classmethod
    def trl_config(cls) -> type:
        return import_trl().SFTConfig


def sft_dataset(config: Mapping[str, Any] | SFTSettings, tokenizer):
    """The prompt-completion rows (``datasets.Dataset``) of the labelled lists in ``data``."""
    from reasonrank_ir.train.formats import sft_example
    from reasonrank_ir.train.run import labelled_rows

    return labelled_rows(SFTSettings.parse(config), sft_example, tokenizer)


def train_sft(config: Mapping[str, Any] | SFTSettings) -> Path:
    """Train as ``config`` says (keys: model, data, run_dir, prompt, lora, training); returns ``final/``."""
    from reasonrank_ir.train.formats import sft_example
    from reasonrank_ir.train.run import (check_run_dir, labelled_rows, labelled_samples, load_tokenizer, peft_config,
                                         precision, require, start_run, train_to_final)

    settings = SFTSettings.parse(config)
    require(settings, "model", "data", "run_dir")
    check_run_dir(settings)
    samples = labelled_samples(settings)  # bad data fails before the model loads and the run folder exists
    trl = import_trl()
    tokenizer = load_tokenizer(settings)
    dataset = labelled_rows(settings, sft_example, tokenizer, samples)
    run_dir = start_run(settings)
    args = trl.SFTConfig(output_dir=str(run_dir), completion_only_loss=True, **precision(settings.training),
                         **settings.training)
    trainer = trl.SFTTrainer(
        model=settings.model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config(settings),
    )
    return train_to_final(trainer, run_dir, tokenizer, settings)


def main(argv: list[str] | None = None) -> int:
    from reasonrank_ir.train.run import cli

    return cli(argv, "python -m reasonrank_ir.train.sft", SFTSettings, train_sft)


if __name__ == "__main__":
    sys.exit(main())
