"""Cold-start SFT of a listwise reasoning reranker with trl's SFTTrainer.

Each labelled list becomes the reranker's exact prompt plus the teacher's turn
``<think>reasoning</think> <answer>[a] > [b] ...</answer>``; the loss covers that turn only.
Defaults are the paper's (full fine-tune, lr 5e-6, cosine, warmup 0.1, 5 epochs, batch 1 x 8
accumulation, cut-off 23552 tokens, bf16 on GPU); LoRA through peft with a ``lora:`` section.
:func:`train_sft` is the whole job; ``python -m reasonrank_ir.train.sft`` runs it.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from reasonrank_ir.train.formats import sft_example
from reasonrank_ir.train.run import (TrainerSettings, import_trl, labelled_rows, prepare_run,
                                     train_to_final)


class SFTSettings(TrainerSettings):
    """SFT's settings; ``training`` over the paper's defaults (trl ``SFTConfig`` fields)."""

    TRL_CONFIG: ClassVar[str] = "SFTConfig"
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


def sft_dataset(config: Mapping[str, Any] | SFTSettings, tokenizer: Any) -> Any:
    """The prompt-completion rows (``datasets.Dataset``) of the labelled lists in ``data``."""
    return labelled_rows(SFTSettings.parse(config), sft_example, tokenizer)


def train_sft(config: Mapping[str, Any] | SFTSettings) -> Path:
    """Train as ``config`` says (keys: model, data, run_dir, prompt, lora, training); returns ``final/``."""
    settings = SFTSettings.parse(config)
    run = prepare_run(settings, sft_example, completion_only_loss=True)
    return train_to_final(import_trl().SFTTrainer(args=run.args, **run.trainer_arguments()), run)
