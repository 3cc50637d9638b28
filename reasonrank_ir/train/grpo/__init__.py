"""GRPO of a listwise reasoning reranker with trl's GRPOTrainer and the multi-view ranking reward.

Defaults follow the paper: 8 rollouts per prompt, KL coefficient 0.001 (trl's KL term is the k3
"low-variance" estimator verl's ``low_var_kl`` uses), lr 1e-6, max completion 3072 tokens; the
reward is :func:`reasonrank_ir.train.reward.ranking_reward` (phi 0.2, gamma 0.1, RBO p 1.0,
from the ``reward:`` section). ``per_device_train_batch_size`` counts completions: 16 x 8 on one
device is one batch of 16 prompts x 8 rollouts per optimizer step. :func:`train_grpo` is the whole
job; ``python -m reasonrank_ir.train.grpo`` runs it.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from reasonrank_ir.train.formats import grpo_example
from reasonrank_ir.train.reward import RankingReward, RewardConfig
from reasonrank_ir.train.run import (TrainerSettings, import_trl, labelled_rows, prepare_run,
                                     train_to_final)


class GRPOSettings(TrainerSettings):
    """GRPO's settings: the reward's weights, and ``training`` over the paper's defaults (trl ``GRPOConfig``)."""

    TRL_CONFIG: ClassVar[str] = "GRPOConfig"
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


def grpo_dataset(config: Mapping[str, Any] | GRPOSettings, tokenizer: Any) -> Any:
    """Rows with the rendered prompt and the reward's columns (initial_list, relevant_docids, final_list)."""
    return labelled_rows(GRPOSettings.parse(config), grpo_example, tokenizer)


def train_grpo(config: Mapping[str, Any] | GRPOSettings, reward: RankingReward | None = None,
               extra_rewards: Sequence[Callable[..., list[float]]] = ()) -> Path:
    """Train as ``config`` says (model, data, run_dir, prompt, reward, lora, training); returns ``final/``.

    ``extra_rewards`` are further trl reward functions (format or length shaping, say) added to the
    ranking reward, weighted by ``training.reward_weights`` when given.
    """
    settings = GRPOSettings.parse(config)
    run = prepare_run(settings, grpo_example, padding_side="left")
    rewards = [reward or RankingReward(settings.reward), *extra_rewards]
    return train_to_final(import_trl().GRPOTrainer(reward_funcs=rewards, args=run.args, **run.trainer_arguments()),
                          run)
