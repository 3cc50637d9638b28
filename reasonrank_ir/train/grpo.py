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
from typing import Any

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.train.reward import RankingReward, RewardConfig

DEFAULT_TRAINING: dict[str, Any] = {
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


def grpo_dataset(config: Mapping[str, Any], tokenizer):
    """Rows with the rendered prompt and the reward's columns (initial_list, relevant_docids, final_list)."""
    from datasets import Dataset

    from reasonrank_ir.train.formats import grpo_example
    from reasonrank_ir.train.run import labelled_samples, prompt_settings

    settings = prompt_settings(config)
    return Dataset.from_list([grpo_example(s, tokenizer, settings) for s in labelled_samples(config)])


def train_grpo(config: Mapping[str, Any], reward: RankingReward | None = None,
               extra_rewards: Sequence[Callable[..., list[float]]] = ()) -> Path:
    """Train as ``config`` says (model, data, run_dir, prompt, reward, lora, training); returns ``final/``.

    ``extra_rewards`` are further trl reward functions (format or length shaping, say) added to the
    ranking reward, weighted by ``training.reward_weights`` when given.
    """
    try:
        from trl import GRPOConfig, GRPOTrainer
    except ImportError as e:
        raise ReasonRankError("Training needs trl: pip install 'reasonrank-ir[train]'") from e
    from reasonrank_ir.train.run import (
        load_tokenizer, peft_config, precision, require, start_run, train_to_final)

    require(config, "model", "data", "run_dir")
    run_dir = start_run(config)
    tokenizer = load_tokenizer(config)
    tokenizer.padding_side = "left"
    training = {**DEFAULT_TRAINING, **(config.get("training") or {})}
    reward = reward or RankingReward(RewardConfig(**(config.get("reward") or {})))
    args = GRPOConfig(output_dir=str(run_dir), **precision(training), **training)
    trainer = GRPOTrainer(
        model=config["model"],
        reward_funcs=[reward, *extra_rewards],
        args=args,
        train_dataset=grpo_dataset(config, tokenizer),
        processing_class=tokenizer,
        peft_config=peft_config(config),
    )
    return train_to_final(trainer, run_dir, tokenizer, config)


def main(argv: list[str] | None = None) -> int:
    from reasonrank_ir.train.run import cli

    return cli(argv, "python -m reasonrank_ir.train.grpo", train_grpo)


if __name__ == "__main__":
    sys.exit(main())
