"""Two processes of ``accelerate launch`` on CPU (gloo) running the SFT and GRPO CLIs with a tiny random Qwen2:
both ranks train on their own share of the data in one process group, end with the same weights,
and rank 0 alone writes the run folder (one checkpoint, one final model)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, free_port
from reasonrank_ir.train.sample import Sample, append_samples
from reasonrank_ir.types import Candidate, Query

pytestmark = pytest.mark.slow  # two processes, each loading torch and trl

PASSAGES = {
    "d1": "The boundary layer thickens downstream of the leading edge.",
    "d2": "Shock waves form when the flow exceeds the speed of sound.",
    "d3": "Heat transfer rises in the turbulent part of the layer.",
    "d4": "Wing flutter couples bending and torsion at a critical speed.",
}
QUESTIONS = [("1", "why does the boundary layer grow?", "d1"), ("2", "when do shock waves form?", "d2"),
             ("3", "where does heat transfer rise?", "d3"), ("4", "what makes a wing flutter?", "d4")]
CPU_TRAINING = {"use_cpu": True, "bf16": False, "gradient_checkpointing": False, "logging_steps": 1,
                "report_to": "none", "learning_rate": 1e-3, "gradient_accumulation_steps": 1,
                "lr_scheduler_type": "constant", "warmup_steps": 0, "save_strategy": "steps", "save_only_model": True,
                "seed": 0}


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("distributed") / "labelled.jsonl"
    candidates = tuple(Candidate(d, 1.0, {"text": t}) for d, t in PASSAGES.items())
    append_samples(path, [Sample("toy", Query(qid, text), candidates).with_labels(
        [positive], [positive, *sorted(set(PASSAGES) - {positive})], f"{positive} answers.")
        for qid, text, positive in QUESTIONS])
    return path


def launch(trainer: str, config: dict, tmp_path: Path, expect_success: bool = True):
    """Run ``accelerate launch`` with two processes on the trainer's CLI: the run folder and the rank
    records (or, with ``expect_success=False``, the failed process)."""
    config_file, records, run_dir = tmp_path / "config.yaml", tmp_path / "records", tmp_path / "run"
    config_file.write_text(yaml.safe_dump({**config, "run_dir": str(run_dir)}), encoding="utf-8")
    accelerate = Path(sys.executable).with_name("accelerate")
    # `--cpu` alone starts one process (accelerate's multi-CPU launcher is MPI's); `--multi_gpu` starts
    # two through torchrun, and training.use_cpu makes them a gloo group on the CPU.
    command = [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
               str(ROOT / "tests" / "launched_trainer.py"), trainer, str(records), "--config", str(config_file)]
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    if not expect_success:
        assert done.returncode != 0
        return done
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return run_dir, [json.loads((records / f"rank{r}.json").read_text()) for r in (0, 1)]


def check_ranks(ranks: list[dict], steps: int) -> None:
    """Both ranks ran every step in one gloo group of two, each on its own batches, and agree on the weights."""
    assert [r["rank"] for r in ranks] == [0, 1]
    assert all(r["world_size"] == 2 and r["backend"] == "gloo" for r in ranks)
    assert all(r["global_step"] == steps and len(r["steps"]) == steps for r in ranks)
    assert all(a != b for a, b in zip(ranks[0]["steps"], ranks[1]["steps"]))  # the data was split
    assert ranks[0]["weights"] == ranks[1]["weights"]  # gradients were all-reduced


def check_run_folder(run_dir: Path, steps: int) -> None:
    """One checkpoint, one final model with its tokenizer, the settings and the log, nothing half-written."""
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(  # README.md: trl's model card
        ["README.md", f"checkpoint-{steps}", "config.yaml", "final", "log_history.jsonl"])
    assert len(list((run_dir / f"checkpoint-{steps}").glob("*.safetensors"))) == 1
    assert len(list((run_dir / "final").glob("*.safetensors"))) == 1
    assert (run_dir / "final" / "tokenizer.json").is_file()
    log = [json.loads(line) for line in (run_dir / "log_history.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log if "loss" in e] == list(range(1, steps + 1))
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["run_dir"] == str(run_dir)


def test_sft_under_accelerate_launch_two_cpu_processes(tiny_qwen2, labelled, tmp_path):
    from launched_trainer import weights_digest
    from transformers import AutoModelForCausalLM

    steps = 3
    config = {"model": str(tiny_qwen2), "data": str(labelled), "prompt": {"max_passage_tokens": 16},
              "training": {**CPU_TRAINING, "max_steps": steps, "save_steps": steps,
                           "per_device_train_batch_size": 1, "max_length": 2048}}
    run_dir, ranks = launch("sft", config, tmp_path)
    check_ranks(ranks, steps)
    check_run_folder(run_dir, steps)
    final = weights_digest(AutoModelForCausalLM.from_pretrained(str(run_dir / "final")))
    assert final == ranks[0]["weights"]  # the model the ranks trained is the one saved
    assert final != weights_digest(AutoModelForCausalLM.from_pretrained(str(tiny_qwen2)))


def test_grpo_under_accelerate_launch_two_cpu_processes(tiny_qwen2, labelled, tmp_path):
    # 4 completions per rank and step, 4 per prompt: each rank generates and scores its own prompt.
    # A random model never writes the answer format, so every reward is -1 and no advantage moves the
    # weights: what this proves is the distributed loop (generation, reward, all-reduce, saving).
    steps = 2
    config = {"model": str(tiny_qwen2), "data": str(labelled), "prompt": {"max_passage_tokens": 16},
              "training": {**CPU_TRAINING, "max_steps": steps, "save_steps": steps, "num_generations": 4,
                           "per_device_train_batch_size": 4, "max_completion_length": 8, "beta": 0.001}}
    run_dir, ranks = launch("grpo", config, tmp_path)
    check_ranks(ranks, steps)
    check_run_folder(run_dir, steps)


def test_processes_that_join_no_group_are_refused(tiny_qwen2, labelled, tmp_path):
    """Without GPUs and without use_cpu, torchrun's two processes would each train alone on all the
    data and write the same run folder: the trainer refuses before training, in one line."""
    config = {"model": str(tiny_qwen2), "data": str(labelled), "prompt": {"max_passage_tokens": 16},
              "training": {**CPU_TRAINING, "use_cpu": False, "max_steps": 1, "per_device_train_batch_size": 1}}
    if __import__("torch").cuda.is_available():
        pytest.skip("with GPUs the two processes do form a group")
    done = launch("sft", config, tmp_path, expect_success=False)
    # Each rank's CLI prints the one line (torchrun then reports the failed ranks).
    assert done.stderr.count("error: 2 processes were launched but 1 joined the process group") == 2
    assert "--set training.use_cpu=true" in done.stderr
    assert not (tmp_path / "run" / "final").exists()
