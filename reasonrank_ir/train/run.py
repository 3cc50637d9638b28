"""What SFT and GRPO share: the run folder, model loading (LoRA optional), the final checkpoint.

A run folder holds ``config.yaml`` (the resolved settings), trl's ``checkpoint-*`` folders,
``log_history.jsonl`` and ``final/``: a full model plus tokenizer (LoRA merged) that the reranker
loads with ``--model RUN/final``.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reasonrank_ir.errors import ReasonRankError, cli_main
from reasonrank_ir.io.jsonl import write_jsonl
from reasonrank_ir.train.formats import PromptSettings, read_samples_any


def require(config: Mapping[str, Any], *keys: str) -> None:
    missing = [k for k in keys if not config.get(k)]
    if missing:
        raise ReasonRankError(f"The training config needs {', '.join(missing)} (in the YAML or with --set).")


def start_run(config: Mapping[str, Any]) -> Path:
    """Create the run folder and record the settings the run used."""
    import yaml

    run_dir = Path(config["run_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(dict(config), sort_keys=False), encoding="utf-8")
    return run_dir


def prompt_settings(config: Mapping[str, Any]) -> PromptSettings:
    return PromptSettings(**(config.get("prompt") or {}))


def labelled_samples(config: Mapping[str, Any]) -> list:
    samples = [s for s in read_samples_any(config["data"]) if s.labelled]
    if not samples:
        raise ReasonRankError(f"{config['data']} holds no labelled lists (run reasonrank_ir.train.label first).")
    return samples


def precision(training: Mapping[str, Any]) -> dict[str, Any]:
    """bf16 on a GPU that supports it, fp32 elsewhere, unless the config says otherwise."""
    import torch

    if "bf16" in training or "fp16" in training:
        return {}
    return {"bf16": bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())}


def peft_config(config: Mapping[str, Any]):
    """A peft ``LoraConfig`` from the ``lora`` section (None: full fine-tuning)."""
    lora = config.get("lora")
    if not lora:
        return None
    try:
        from peft import LoraConfig
    except ImportError as e:
        raise ReasonRankError("LoRA needs peft: pip install 'reasonrank-ir[train]'") from e
    settings = {"task_type": "CAUSAL_LM", "target_modules": "all-linear", **dict(lora)}
    return LoraConfig(**settings)


def load_tokenizer(config: Mapping[str, Any]):
    from reasonrank_ir.rerank.prompts import load_tokenizer as load

    tokenizer = load(config.get("tokenizer") or config["model"])
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def train_to_final(trainer, run_dir: Path, tokenizer, config: Mapping[str, Any]) -> Path:
    """Train (from the last checkpoint with ``resume``), then write the log history and the final
    model (LoRA merged) where the reranker can load it."""
    trainer.train(resume_from_checkpoint=last_checkpoint(run_dir) if config.get("resume") else None)
    write_jsonl(run_dir / "log_history.jsonl", trainer.state.log_history)
    final = run_dir / "final"
    model = trainer.accelerator.unwrap_model(trainer.model)
    if hasattr(model, "merge_and_unload"):  # LoRA: one full model the reranker can load
        if trainer.accelerator.is_main_process:
            model.merge_and_unload().save_pretrained(final)
    else:
        trainer.save_model(str(final))  # gathers ZeRO-3 shards under DeepSpeed
    if trainer.accelerator.is_main_process:
        tokenizer.save_pretrained(final)
    return final


def last_checkpoint(run_dir: Path) -> str | None:
    found = sorted(run_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    return str(found[-1]) if found else None


@cli_main
def cli(argv: list[str] | None, prog: str, train) -> int:
    """The shared CLI of sft and grpo: ``--config YAML`` then ``--set key=value`` overrides."""
    from reasonrank_ir.train.config import apply_overrides, read_config

    parser = argparse.ArgumentParser(prog=prog, description=(sys.modules[train.__module__].__doc__ or "").split("\n\n")[0])
    parser.add_argument("--config", help="YAML run config: a file, or a packaged name (sft, grpo)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a setting, e.g. --set training.learning_rate=1e-5 --set lora.r=16")
    parser.add_argument("--model", help="shortcut for --set model=...")
    parser.add_argument("--data", help="shortcut for --set data=...")
    parser.add_argument("--run-dir", help="shortcut for --set run_dir=...")
    parser.add_argument("--resume", action="store_true", help="continue from the run folder's last checkpoint")
    args = parser.parse_args(argv)
    config = read_config(args.config) if args.config else {}
    shortcuts = {"model": args.model, "data": args.data, "run_dir": args.run_dir}
    config.update({k: v for k, v in shortcuts.items() if v})
    config = apply_overrides(config, args.set)
    if args.resume:
        config["resume"] = True
    final = train(config)
    print(f"final checkpoint: {final}  (rerank with --model {final})")
    return 0
