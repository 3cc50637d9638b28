"""Run one of the package's training CLIs as a rank of ``accelerate launch``, then record that rank.

    accelerate launch --num_processes 2 --cpu tests/launched_trainer.py sft RECORDS_DIR [CLI args...]

The CLI runs unchanged (``reasonrank_ir.train.sft.__main__.main`` or grpo's); the trainer class is only
watched: each training step's inputs are fingerprinted, and after training the rank writes
``RECORDS_DIR/rank<N>.json`` with its rank, world size, process-group backend, steps, the
fingerprints and a digest of its final weights, so the test can tell the ranks shared the work and
ended with the same model.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path


def fingerprint(value) -> str:
    """A digest of one step's inputs, whatever their form (tensors, lists of rows)."""
    import torch

    def plain(item):
        if isinstance(item, torch.Tensor):
            return item.tolist()
        if isinstance(item, dict):
            return {k: plain(v) for k, v in sorted(item.items())}
        if isinstance(item, list | tuple):
            return [plain(v) for v in item]
        return item if isinstance(item, str | int | float | bool | type(None)) else repr(item)

    return hashlib.sha256(json.dumps(plain(value), sort_keys=True).encode()).hexdigest()[:16]


def weights_digest(model) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


def main() -> int:
    which, records, argv = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
    import trl

    if which == "sft":
        from reasonrank_ir.train.sft.__main__ import main as cli
        trainer_class = trl.SFTTrainer
    else:
        from reasonrank_ir.train.grpo.__main__ import main as cli
        trainer_class = trl.GRPOTrainer

    steps: list[str] = []
    trained = {}
    training_step, train = trainer_class.training_step, trainer_class.train

    def watched_step(self, model, inputs, *args, **kwargs):
        steps.append(fingerprint(inputs))
        return training_step(self, model, inputs, *args, **kwargs)

    def watched_train(self, *args, **kwargs):
        result = train(self, *args, **kwargs)
        trained["trainer"] = self
        return result

    trainer_class.training_step, trainer_class.train = watched_step, watched_train
    status = cli(argv)
    if status != 0:  # the CLI refused (one line on stderr): nothing trained, nothing to record
        return status
    trainer = trained["trainer"]
    import torch.distributed as dist

    accelerator = trainer.accelerator
    record = {
        "rank": accelerator.process_index,
        "world_size": accelerator.num_processes,
        "backend": dist.get_backend() if dist.is_initialized() else None,
        "global_step": trainer.state.global_step,
        "steps": steps,
        "weights": weights_digest(accelerator.unwrap_model(trainer.model)),
    }
    records.mkdir(parents=True, exist_ok=True)
    (records / f"rank{record['rank']}.json").write_text(json.dumps(record), encoding="utf-8")
    return status


if __name__ == "__main__":
    sys.exit(main())
