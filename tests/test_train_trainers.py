"""SFT and GRPO for a few steps on CPU with a tiny random Qwen2 (the shared Qwen2.5 tokenizer), then
the checkpoint reranks a Cranfield query through the reranker."""
from __future__ import annotations

import json
import math

import pytest

from reasonrank_ir.train.reward import RankingReward, RewardConfig, ranking_reward
from reasonrank_ir.train.sample import Sample, append_samples
from reasonrank_ir.types import Candidate, Query

pytestmark = pytest.mark.slow  # trl trainers

PASSAGES = {
    "d1": "The boundary layer thickens downstream of the leading edge.",
    "d2": "Shock waves form when the flow exceeds the speed of sound.",
    "d3": "Heat transfer rises in the turbulent part of the layer.",
}


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    path = tmp_path_factory.mktemp("train") / "labelled.jsonl"
    candidates = tuple(Candidate(d, 1.0, {"text": t}) for d, t in PASSAGES.items())
    samples = [
        Sample("toy", Query("1", "why does the boundary layer grow?"), candidates)
        .with_labels(["d1"], ["d1", "d3", "d2"], "d1 explains growth."),
        Sample("toy", Query("2", "when do shock waves form?"), candidates)
        .with_labels(["d2"], ["d2", "d1", "d3"], "d2 is about shocks."),
    ]
    append_samples(path, samples)
    return path


def _weights(path):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(path))
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def _changed(before, after) -> bool:
    return any(not (before[n] == after[n]).all() for n in before)


def _losses(run_dir) -> list[float]:
    lines = (run_dir / "log_history.jsonl").read_text().splitlines()
    return [entry["loss"] for entry in map(json.loads, lines) if "loss" in entry]


CPU_TRAINING = {"bf16": False, "gradient_checkpointing": False, "logging_steps": 1, "save_strategy": "no",
                "report_to": "none", "learning_rate": 1e-3, "gradient_accumulation_steps": 1,
                "lr_scheduler_type": "constant", "warmup_steps": 0}


def test_sft_trains_the_assistant_turn_and_the_checkpoint_reranks_cranfield(tiny_qwen2, labelled, tmp_path,
                                                                             cranfield):
    from reasonrank_ir.train.run import load_tokenizer
    from reasonrank_ir.train.sft import SFTSettings, sft_dataset, train_sft

    config = {"model": str(tiny_qwen2), "data": str(labelled), "run_dir": str(tmp_path / "sft"),
              "prompt": {"max_passage_tokens": 16},
              "training": {**CPU_TRAINING, "max_steps": 3, "per_device_train_batch_size": 1, "max_length": 2048}}
    final = train_sft(config)
    losses = _losses(tmp_path / "sft")
    assert len(losses) == 3 and all(math.isfinite(x) and x > 0 for x in losses)
    assert _changed(_weights(tiny_qwen2), _weights(final))
    assert (tmp_path / "sft" / "config.yaml").is_file()

    # The loss covers the assistant turn only: trl masks everything up to the rendered prompt.
    from trl import SFTConfig, SFTTrainer

    tokenizer = load_tokenizer(SFTSettings.parse(config))
    rows = sft_dataset(config, tokenizer)
    trainer = SFTTrainer(model=str(tiny_qwen2), train_dataset=rows, processing_class=tokenizer,
                         args=SFTConfig(output_dir=str(tmp_path / "probe"), completion_only_loss=True,
                                        bf16=False, report_to="none", max_length=2048))
    row = trainer.train_dataset[0]
    labelled_ids = [t for t in row["labels"] if t != -100]
    assert tokenizer.decode(labelled_ids) == rows[0]["completion"]
    assert rows[0]["completion"].startswith("<think>d1 explains growth.</think> <answer>[1] > [3] > [2]</answer>")

    # The trained checkpoint loads straight into the reranker.
    from reasonrank_ir.backends.base import Sampling
    from reasonrank_ir.rerank import Reranker
    from reasonrank_ir.rerank.listwise import RerankConfig
    from reasonrank_ir.retrieval.bm25 import BM25

    query = next(iter(cranfield.topics().values()))
    ranking = BM25(cranfield.index()).retrieve([query], k=5)[query.query_id]
    docs = cranfield.documents(c.doc_id for c in ranking.candidates)
    ranking = type(ranking)(ranking.query, tuple(c.with_doc(docs[c.doc_id]) for c in ranking.candidates))
    reranker = Reranker.from_name("reasonrank", model=str(final), backend="hf",
                                  config=RerankConfig(depth=5, window=5, step=5, max_passage_tokens=32,
                                                      sampling=Sampling(max_tokens=8)))
    run = reranker.rerank([ranking])
    assert sorted(c.doc_id for c in run[query.query_id].candidates) == sorted(c.doc_id for c in ranking.candidates)


def test_sft_resume_continues_from_the_last_checkpoint(tiny_qwen2, labelled, tmp_path):
    from reasonrank_ir.train.sft import train_sft

    config = {"model": str(tiny_qwen2), "data": str(labelled), "run_dir": str(tmp_path / "sft"),
              "prompt": {"max_passage_tokens": 16}}
    training = {**CPU_TRAINING, "per_device_train_batch_size": 1, "max_length": 2048, "save_strategy": "steps",
                "save_steps": 1}
    train_sft({**config, "training": {**training, "max_steps": 2}})
    first = _losses(tmp_path / "sft")
    assert sorted(p.name for p in (tmp_path / "sft").glob("checkpoint-*")) == ["checkpoint-1", "checkpoint-2"]
    # Resumed from checkpoint-2, steps 1-2 keep their logged losses and only step 3 trains; a fresh start at
    # this learning rate would log a different loss at step 2.
    train_sft({**config, "resume": True, "training": {**training, "max_steps": 3, "learning_rate": 0.5}})
    resumed = _losses(tmp_path / "sft")
    assert len(resumed) == 3 and resumed[:2] == first


class RecordingReward(RankingReward):
    """The ranking reward, keeping what it saw."""

    def __init__(self):
        super().__init__(RewardConfig())
        self.seen: list[tuple[str, float]] = []

    def __call__(self, completions, initial_list, relevant_docids, final_list, **kwargs):
        scores = super().__call__(completions, initial_list, relevant_docids, final_list, **kwargs)
        self.seen += list(zip(completions, scores))
        return scores


def test_grpo_calls_the_ranking_reward_on_real_generations(tiny_qwen2, labelled, tmp_path):
    from reasonrank_ir.train import grpo

    reward = RecordingReward()
    # A random model never writes the answer format, so every rollout scores -1 and the group has no
    # advantage to learn from; a length term (test only) gives the groups variance so weights move.
    config = {"model": str(tiny_qwen2), "data": str(labelled), "run_dir": str(tmp_path / "grpo"),
              "prompt": {"max_passage_tokens": 16},
              "training": {**CPU_TRAINING, "max_steps": 2, "num_generations": 4, "per_device_train_batch_size": 4,
                           "max_completion_length": 16, "beta": 0.001}}
    final = grpo.train_grpo(config, reward, extra_rewards=[_length_reward])
    assert reward.calls == 2 * 4 and len(reward.seen) == 8
    for completion, score in reward.seen:
        assert isinstance(completion, str) and completion
        assert score == ranking_reward(completion, list(PASSAGES), ["d1"], list(PASSAGES)) or \
            score == ranking_reward(completion, list(PASSAGES), ["d2"], list(PASSAGES)) or score == -1.0
    losses = _losses(tmp_path / "grpo")
    assert len(losses) == 2 and all(math.isfinite(x) for x in losses)
    assert _changed(_weights(tiny_qwen2), _weights(final))


def _length_reward(completions, **_):
    return [len(c) / 100 for c in completions]
