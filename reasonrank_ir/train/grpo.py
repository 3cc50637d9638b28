"""GRPO of a listwise reasoning reranker with trl's GRPOTrainer and the multi-view ranking reward.

Defaults follow the paper: 8 rollouts per prompt, KL coefficient 0.001 (trl's KL term is the k3
"low-variance" estimator verl's ``low_var_kl`` uses), lr 1e-6, max completion 3072 tokens; the
reward is :func:`reasonrank_ir.train.reward.ranking_reward` (phi 0.2, gamma 0.1, RBO p 1.0,
from the ``reward:`` section). ``per_device_train_batch_size`` counts completions: 16 x 8 on one
device is one batch of 16 prompts x 8 rollouts per optimizer step.

    python -m reasonrank_ir.train.grpo --config grpo --set model=runs/sft/final
    accelerate launch --config_file ds_zero2.yaml -m reasonrank_ir.train.grpo --config ...   # multi-GPU
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from reasonrank_ir.train.reward import RankingReward, RewardConfig
from reasonrank_ir.train.run import TrainerSettings, import_trl


class GRPOSettings(TrainerSettings):
    """GRPO's settings: the reward's weights, and ``training`` over the paper's defaults (trl ``GRPOConfig``)."""

    DEFAULT_TRAINING: ClassVar[dict[str, Any]] = {
        "learning_rate": 1e-6,
        "num_generations": 8,
        "beta": 0.001,
        "max_completion_length": 3072,
        "per_device_train_batch_size": 16,
        "gradient_accumulation_steps": 8,
        "temperature": 1.0,
        "max_steps": 200,
        "gradient_checkpointing": True,
        "logging_steps": 1,
        "save_steps": 25,
        "save_only_model": True,
        "report_to": "none",
    }

    reward: RewardConfig = RewardConfig()

    @classmethod
    def trl_config(cls) -> type:
        return import_trl().GRPOConfig


def grpo_dataset(config: Mapping[str, Any] | GRPOSettings, tokenizer):
    """Rows with the rendered prompt and the reward's columns (initial_list, relevant_docids, final_list)."""
    from reasonrank_ir.train.formats import grpo_example
    from reasonrank_ir.train.run import labelled_rows

    return labelled_rows(GRPOSettings.parse(config), grpo_example, tokenizer)


def train_grpo(config: Mapping[str, Any] | GRPOSettings, reward: RankingReward | None = None,
               extra_rewards: Sequence[Callable[..., list[float]]] = ()) -> Path:
    """Train as ``config`` says (model, data, run_dir, prompt, reward, lora, training); returns ``final/``.

    ``extra_rewards`` are further trl reward functions (format or length shaping, say) added to the
    ranking reward, weighted by ``training.reward_weights`` when given.
    """
    from reasonrank_ir.train.formats import grpo_example
    from reasonrank_ir.train.run import (check_run_dir, labelled_rows, labelled_samples, load_tokenizer, peft_config,
                                         precision, require, start_run, train_to_final)
    settings = GRPOSettings.parse(config)
    require(settings, "model", "data", "run_dir")
    check_run_dir(settings)
    samples = labelled_samples(settings)  # bad data fails before the model loads and the run folder exists
    trl = import_trl()
    tokenizer = load_tokenizer(settings)
    tokenizer.padding_side = "left"
    dataset = labelled_rows(settings, grpo_example, tokenizer, samples)
    run_dir = start_run(settings)
    reward = reward or RankingReward(settings.reward)
    args = trl.GRPOConfig(output_dir=str(run_dir), **precision(settings.training), **settings.training)
    trainer = trl.GRPOTrainer(
        model=settings.model,
        reward_funcs=[reward, *extra_rewards],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config(settings),
    )
    return train_to_final(trainer, run_dir, tokenizer, settings)


def main(argv: list[str] | None = None) -> int:
    from reasonrank_ir.train.run import cli

    return cli(argv, "python -m reasonrank_ir.train.grpo", GRPOSettings, train_grpo)


if __name__ == "__main__":
    sys.exit(main())
