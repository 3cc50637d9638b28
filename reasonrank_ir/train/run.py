"""What SFT and GRPO share: the run folder, model loading (LoRA optional), the final checkpoint.

A run folder holds ``config.yaml`` (the resolved settings), trl's ``checkpoint-*`` folders,
``log_history.jsonl`` and ``final/``: a full model plus tokenizer (LoRA merged) that the reranker
loads with ``--model RUN/final``.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.io import check_output_dir
from reasonrank_ir.io.jsonl import write_jsonl
from reasonrank_ir.train.config import Settings, check_keys, check_types, flag
from reasonrank_ir.train.formats import PromptSettings, read_samples_any
from reasonrank_ir.train.library_fields import dataclass_fields
from reasonrank_ir.train.sample import Sample

Example = Callable[[Sample, Any, PromptSettings], dict[str, Any]]
"""A training row from a labelled list, the model's tokenizer and the prompt settings (see ``formats``)."""


class TrainerSettings(Settings):
    """What SFT and GRPO read: ``training`` holds trl's config fields (over the trainer's defaults),
    ``lora`` peft's ``LoraConfig`` fields (None: full fine-tuning)."""

    DEFAULT_TRAINING: ClassVar[dict[str, Any]] = {}
    TRL_CONFIG: ClassVar[str] = ""
    """The name of trl's config class whose fields ``training`` may set (``SFTConfig``)."""

    model: str | None = flag("model to start from, a hub name or a folder (shortcut for --set model=...)")
    data: str | None = flag("labelled lists, JSONL (shortcut for --set data=...)")
    run_dir: str | None = flag("run folder: config.yaml, checkpoints, final/ (shortcut for --set run_dir=...)")
    tokenizer: str | None = None
    resume: bool = flag("continue from the run folder's last checkpoint", default=False)
    prompt: PromptSettings = PromptSettings()
    lora: dict[str, Any] | None = None
    training: dict[str, Any] = Field(default_factory=dict, validate_default=True)

    @classmethod
    def trl_config(cls) -> type:
        """trl's config class whose fields ``training`` may set."""
        config: type = getattr(import_trl(), cls.TRL_CONFIG)
        return config

    @classmethod
    def trl_fields(cls) -> dict[str, Any]:
        """Name -> type of each field ``training`` may set, read from trl's source: a typo is refused in
        milliseconds, not after the seconds importing trl takes (imported when its source cannot be read)."""
        return dataclass_fields("trl", cls.TRL_CONFIG, cls.trl_config)

    @field_validator("training")
    @classmethod
    def _trl_fields(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not value:  # the defaults are trl's own fields: nothing to check
            return dict(cls.DEFAULT_TRAINING)
        fields = cls.trl_fields()
        check_keys("training", value, list(fields))
        check_types("training", value, fields)
        return {**cls.DEFAULT_TRAINING, **value}

    @field_validator("lora")
    @classmethod
    def _lora_fields(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value:
            fields = dataclass_fields("peft", "LoraConfig", _lora_config)
            check_keys("lora", value, list(fields))
            check_types("lora", value, fields)
        return value


def import_trl() -> Any:
    """trl, or the install command that brings it."""
    try:
        import trl
    except ImportError as e:
        raise ReasonRankError("Training needs trl: pip install 'reasonrank-ir[train]'") from e
    return trl


@dataclass(frozen=True)
class PreparedRun:
    """A run whose inputs were checked and read, ready for trl's trainer: rows, tokenizer, trl config, run folder."""

    settings: TrainerSettings
    model: str
    tokenizer: Any
    dataset: Any
    """The rows, a ``datasets.Dataset``."""
    run_dir: Path
    args: Any = None
    """trl's config (``SFTConfig``, ``GRPOConfig``) of ``training``, built before the run folder was started."""

    def trainer_arguments(self) -> dict[str, Any]:
        """What every trl trainer takes besides its config: model, rows, tokenizer and LoRA (or None)."""
        return {"model": self.model, "train_dataset": self.dataset, "processing_class": self.tokenizer,
                "peft_config": peft_config(self.settings)}


def prepare_run(settings: TrainerSettings, example: Example, padding_side: str | None = None,
                **config: Any) -> PreparedRun:
    """Check the settings and the run folder and read the data (bad inputs fail before the model
    loads and before anything is written), build the rows and trl's config (``config``: its arguments
    besides ``training``'s), then start the run folder."""
    missing = [k for k in ("model", "data", "run_dir") if not getattr(settings, k)]
    if missing or not settings.model or not settings.run_dir:  # the second half tells the type checker
        raise ReasonRankError(f"The training config needs {', '.join(missing)} (in the YAML or with --set).")
    check_output_dir(settings.run_dir, "--run-dir")
    samples = labelled_samples(settings)
    import_trl()
    tokenizer = load_tokenizer(settings)
    if padding_side:
        tokenizer.padding_side = padding_side
    dataset = labelled_rows(settings, example, tokenizer, samples)
    args = trainer_config(settings, settings.run_dir, **config)
    return PreparedRun(settings, settings.model, tokenizer, dataset, start_run(settings.run_dir, settings), args)


def trainer_config(settings: TrainerSettings, run_dir: str | Path, **config: Any) -> Any:
    """trl's config of ``training`` (over ``config``, precision as :func:`precision` chooses); what trl and
    transformers refuse in it (settings this machine cannot run, values that contradict each other) is one
    line naming the section."""
    try:
        return settings.trl_config()(**{**config, **precision(settings.training), **settings.training,
                                        "output_dir": str(run_dir)})
    except (ValueError, TypeError) as error:
        reason = " ".join(str(error).split())
        raise ReasonRankError(f"training: {settings.TRL_CONFIG} refuses these settings: {reason}") from None


def main_process() -> bool:
    """Whether this process writes the run folder: rank 0 of ``accelerate launch``/``torchrun``, or the only one.

    Read from the launcher's ``RANK`` so it holds before the trainer (and its process group) exists.
    """
    return os.environ.get("RANK", "0") == "0"


def start_run(run_dir: str | Path, settings: TrainerSettings) -> Path:
    """Create the run folder and record the settings the run used (once the inputs have been read)."""
    import yaml

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if main_process():
        resolved = yaml.safe_dump(settings.model_dump(mode="json"), sort_keys=False)
        (run_dir / "config.yaml").write_text(resolved, encoding="utf-8")
    return run_dir


def labelled_samples(settings: TrainerSettings) -> list[Sample]:
    """The labelled lists of ``data``; read before the model loads, so bad data fails first."""
    if not settings.data:
        raise ReasonRankError("The training config needs data (in the YAML or with --set).")
    samples = [s for s in read_samples_any(settings.data) if s.labelled]
    if not samples:
        raise ReasonRankError(f"{settings.data} holds no labelled lists (run reasonrank_ir.train.label first).")
    return samples


def labelled_rows(settings: TrainerSettings, example: Example, tokenizer: Any,
                  samples: list[Sample] | None = None) -> Any:
    """A ``datasets.Dataset`` of ``example(sample, tokenizer, settings.prompt)`` per labelled list of ``data``
    (``samples``: those lists, already read)."""
    from datasets import Dataset

    samples = labelled_samples(settings) if samples is None else samples
    return Dataset.from_list([example(s, tokenizer, settings.prompt) for s in samples])


def precision(training: Mapping[str, Any]) -> dict[str, Any]:
    """bf16 on a GPU that supports it, fp32 elsewhere, unless the config says otherwise."""
    import torch

    if "bf16" in training or "fp16" in training:
        return {}
    return {"bf16": bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())}


def peft_config(settings: TrainerSettings) -> Any:
    """A peft ``LoraConfig`` from the ``lora`` section (None: full fine-tuning)."""
    if not settings.lora:
        return None
    return _lora_config()(**{"task_type": "CAUSAL_LM", "target_modules": "all-linear", **settings.lora})


def _lora_config() -> type:
    try:
        from peft import LoraConfig
    except ImportError as e:
        raise ReasonRankError("LoRA needs peft: pip install 'reasonrank-ir[train]'") from e
    config: type = LoraConfig
    return config


def load_tokenizer(settings: TrainerSettings) -> Any:
    """The tokenizer of ``tokenizer`` (else of ``model``), with a pad token (its EOS when it has none)."""
    from reasonrank_ir.rerank.prompts import load_tokenizer as load

    name = settings.tokenizer or settings.model
    if not name:
        raise ReasonRankError("The training config needs model (in the YAML or with --set).")
    tokenizer = load(name)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def train_to_final(trainer: Any, run: PreparedRun) -> Path:
    """Train (from the last checkpoint with ``resume``), then write the log history and the final
    model (LoRA merged) where the reranker can load it."""
    from transformers.trainer_utils import get_last_checkpoint

    check_process_group(trainer)
    run_dir = run.run_dir
    trainer.train(resume_from_checkpoint=get_last_checkpoint(str(run_dir)) if run.settings.resume else None)
    if trainer.accelerator.is_main_process:  # every rank holds the same history
        write_jsonl(run_dir / "log_history.jsonl", trainer.state.log_history)
    final = run_dir / "final"
    model = trainer.accelerator.unwrap_model(trainer.model)
    if hasattr(model, "merge_and_unload"):  # LoRA: one full model the reranker can load
        if trainer.accelerator.is_main_process:
            model.merge_and_unload().save_pretrained(final)
    else:
        trainer.save_model(str(final))  # gathers ZeRO-3 shards under DeepSpeed
    if trainer.accelerator.is_main_process:
        run.tokenizer.save_pretrained(final)
    return final


def check_process_group(trainer: Any) -> None:
    """Refuse processes a launcher started together that did not join one process group.

    Each would train alone on all the data and write the same run folder: what ``accelerate launch
    --multi_gpu`` gives on a machine without GPUs unless training runs on CPU (``training.use_cpu``).
    """
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    joined = trainer.accelerator.num_processes
    if launched > 1 and joined != launched:
        raise ReasonRankError(f"{launched} processes were launched but {joined} joined the process group: "
                              "without GPUs, train on CPU with --set training.use_cpu=true (gloo)")
