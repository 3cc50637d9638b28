"""Transformers ``generate`` as a backend: batched with left padding, on CPU or one CUDA device.

The slow but dependable engine: it runs wherever torch runs, which makes it the fallback of
``--backend auto`` and the engine of the tests (tiny random models).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from reasonrank_ir.backends.base import Generation, Prompt, Sampling, render_prompt
from reasonrank_ir.batching import batched
from reasonrank_ir.errors import ReasonRankError, unknown

DTYPES = ("auto", "bfloat16", "float16", "float32")


class HFBackend:
    """``AutoModelForCausalLM`` from a local directory or a cached hub id.

    Prompts are sorted by length and cut into batches of ``batch_size`` so that padding stays
    small; results come back in the order of the prompts. Decoding starts from a fresh
    generation config, so a checkpoint's own defaults (e.g. Qwen2.5's repetition penalty) do not
    leak in: the settings are exactly those of :class:`Sampling`, as with vLLM.
    """

    name = "hf"

    @staticmethod
    def check_options(model: str | None, options: dict[str, Any]) -> None:
        """Batch size and dtype checked before torch or the model load."""
        if options.get("batch_size", 1) < 1:
            raise ReasonRankError(f"batch_size must be at least 1, got {options['batch_size']}.")
        dtype = options.get("dtype", "auto")
        if dtype not in DTYPES:
            raise ReasonRankError(unknown("dtype", dtype, DTYPES))

    def __init__(self, model: str, *, batch_size: int = 8, device: str | None = None,
                 dtype: str = "auto", progress: bool = False) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if batch_size < 1:
            raise ReasonRankError(f"batch_size must be at least 1, got {batch_size}.")
        if dtype not in DTYPES:
            raise ReasonRankError(unknown("dtype", dtype, DTYPES))
        self.model = model
        self.batch_size = batch_size
        self.progress = progress
        try:
            self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        except RuntimeError as error:
            raise ReasonRankError(unknown("device", device, (), hint="use cpu, cuda or cuda:N")) from error
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ReasonRankError(f"Device {device!r} asked for, but no CUDA GPU is visible; "
                                  "use device='cpu'.")
        if dtype == "auto":
            torch_dtype = torch.bfloat16 if self.device.type == "cuda" else torch.float32
        else:
            torch_dtype = getattr(torch, dtype)
        from reasonrank_ir.hub import locate

        location = locate(model)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(location)
            self.engine = AutoModelForCausalLM.from_pretrained(location, dtype=torch_dtype)
        except (OSError, ValueError) as error:
            raise ReasonRankError(
                f"Cannot load model {model!r} with transformers ({error.__class__.__name__}: "
                f"{(str(error).splitlines() or [''])[0]}). Give a local checkpoint "
                "directory, or a hub id that is already in the Hugging Face cache when offline."
            ) from error
        self.engine.to(self.device).eval()  # type: ignore[arg-type]  # transformers decorates to() with wraps(Module.to), read as unbound
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        eos = self.engine.generation_config.eos_token_id
        if eos is None:
            eos = self.tokenizer.eos_token_id
        self.eos_token_ids = frozenset(eos if isinstance(eos, list) else [eos])

    def generate(self, prompts: Sequence[Prompt], sampling: Sampling) -> list[Generation]:
        """``sampling.n`` generations per prompt, prompt by prompt, in the order given."""
        from tqdm.auto import tqdm

        texts = [render_prompt(prompt, self.tokenizer) for prompt in prompts]
        encoded = [self.tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]), reverse=True)
        results: list[list[Generation]] = [[] for _ in texts]
        batches = list(batched(order, self.batch_size))
        for batch in tqdm(batches, desc="hf generate", unit="batch", disable=not self.progress):
            for index, generations in zip(batch, self._generate_batch([encoded[i] for i in batch],
                                                                      sampling)):
                results[index] = generations
        return [generation for generations in results for generation in generations]

    def _generate_batch(self, token_ids: list[list[int]], sampling: Sampling) -> list[list[Generation]]:
        """Prompts already tokenised (once, in ``generate``), left-padded into one tensor here."""
        import torch
        from transformers import GenerationConfig

        inputs = self.tokenizer.pad({"input_ids": token_ids}, padding=True, return_tensors="pt").to(self.device)
        sample = sampling.temperature > 0
        config = GenerationConfig(
            max_new_tokens=sampling.max_tokens, do_sample=sample,
            num_return_sequences=sampling.n, eos_token_id=sorted(self.eos_token_ids),
            pad_token_id=self.tokenizer.pad_token_id,
            **({"temperature": sampling.temperature, "top_p": sampling.top_p,
                "top_k": sampling.top_k if sampling.top_k > 0 else None} if sample else {}),
        )
        if sample and sampling.seed is not None:
            torch.manual_seed(sampling.seed)
        with torch.inference_mode():
            output = self.engine.generate(**inputs, generation_config=config)
        prompt_length = inputs["input_ids"].shape[1]
        prompt_tokens = inputs["attention_mask"].sum(dim=1).tolist()
        generations: list[list[Generation]] = [[] for _ in token_ids]
        for row, ids in enumerate(output[:, prompt_length:].tolist()):
            stop = next((i for i, token in enumerate(ids) if token in self.eos_token_ids), None)
            kept = ids if stop is None else ids[:stop + 1]
            generations[row // sampling.n].append(Generation(
                text=cast(str, self.tokenizer.decode(kept, skip_special_tokens=True)),  # one sequence: one string
                prompt_tokens=prompt_tokens[row // sampling.n],
                output_tokens=len(kept),
                finish_reason="stop" if stop is not None else "length",
            ))
        return generations
