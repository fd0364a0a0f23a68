"""Parameter-efficient fine-tuning through PEFT: LoRA, QLoRA, IA3, prefix, prompt and P-tuning.

Each technique builds a PEFT config and wraps the model; the shared loop in ``advisor.train.loop``
trains the adapter. Adapters are saved in PEFT's own format by ``advisor run``.
"""

from __future__ import annotations

from dataclasses import dataclass

from advisor import Technique, TrainableTechnique, TrainSettings, hookimpl, setting

LLAMA_ATTENTION = "q_proj,k_proj,v_proj,o_proj"
LLAMA_MLP = "gate_proj,up_proj,down_proj"


def _targets(value) -> list[str]:
    if isinstance(value, str):
        value = value.split(",")
    return [v.strip() for v in value if v.strip()]


@dataclass
class LoraSettings(TrainSettings):
    learning_rate: float = 1e-3
    r: int = setting(8, "rank of the adapter: the update is B (out x r) times A (r x in)")
    alpha: int = setting(16, "the update BA is scaled by alpha / r")
    dropout: float = setting(0.05, "dropout on the adapter's input while training")
    targets: str = setting("q_proj,v_proj", "comma-separated names of the modules that get an adapter")

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_min("r", 1)
        self.check_min("alpha", 1)
        self.check_range("dropout", 0, 1, "[)")
        self.check("targets", bool(_targets(self.targets)), "one or more module names, comma-separated")


@dataclass
class IA3Settings(TrainSettings):
    learning_rate: float = 3e-3
    targets: str = setting("k_proj,v_proj,down_proj", "comma-separated names of the modules that get a scale")
    feedforward: str = setting(
        "down_proj", "which of the targets are feed-forward modules (their input is scaled, not their output)"
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        targets = _targets(self.targets)
        self.check("targets", bool(targets), "one or more module names, comma-separated")
        self.check(
            "feedforward", set(_targets(self.feedforward)) <= set(targets), f"some of {','.join(targets)}"
        )


@dataclass
class VirtualTokenSettings(TrainSettings):
    learning_rate: float = 1e-2
    virtual_tokens: int = setting(16, "number of trainable virtual tokens")

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_min("virtual_tokens", 1)


@dataclass
class PromptTuningSettings(VirtualTokenSettings):
    learning_rate: float = 3e-2


@dataclass
class PTuningSettings(VirtualTokenSettings):
    encoder_hidden: int = setting(128, "hidden size of the MLP prompt encoder")

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_min("encoder_hidden", 1)


class Lora(TrainableTechnique, Technique):
    name = "lora"
    memory_method = "lora"
    kind = "peft"
    description = "Low-rank adapters (W + BA) on the chosen projections; mergeable into the weights."
    Settings = LoraSettings

    def lora_config(self, settings):
        from peft import LoraConfig, TaskType

        return LoraConfig(
            task_type=TaskType.CAUSAL_LM,
            r=int(settings["r"]),
            lora_alpha=int(settings["alpha"]),
            lora_dropout=float(settings["dropout"]),
            target_modules=_targets(settings["targets"]),
        )

    def prepare(self, model, settings, env):
        from peft import get_peft_model

        return get_peft_model(model, self.lora_config(settings))


class QLora(Lora):
    name = "qlora"
    memory_method = "qlora"
    memory_precision = "nf4"
    requires = ("cuda",)
    #: prepare() loads its own 4-bit base: the caller moves the full-precision model off the GPU first
    loads_own_base = True
    description = "LoRA on a 4-bit NF4 base model (bitsandbytes, double quantisation, bf16 compute)."

    def prepare(self, model, settings, env):
        import torch
        from peft import get_peft_model, prepare_model_for_kbit_training
        from transformers import AutoModelForCausalLM, BitsAndBytesConfig

        quant = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
        # The 4-bit base is loaded anew from the model folder; the fp32 copy is released.
        path = model.config._name_or_path
        del model
        # this process's GPU (under `accelerate launch` each process has its own)
        device = torch.cuda.current_device()
        base = AutoModelForCausalLM.from_pretrained(path, quantization_config=quant, device_map={"": device})
        base = prepare_model_for_kbit_training(
            base, use_gradient_checkpointing=bool(settings["gradient_checkpointing"])
        )
        return get_peft_model(base, self.lora_config(settings))


class IA3(TrainableTechnique, Technique):
    name = "ia3"
    memory_method = "ia3"
    kind = "peft"
    description = "IA3: learned scaling vectors on keys, values and the MLP down-projection input."
    Settings = IA3Settings

    def prepare(self, model, settings, env):
        from peft import IA3Config, TaskType, get_peft_model

        cfg = IA3Config(
            task_type=TaskType.CAUSAL_LM,
            target_modules=_targets(settings["targets"]),
            feedforward_modules=_targets(settings["feedforward"]),
        )
        return get_peft_model(model, cfg)


class PrefixTuning(TrainableTechnique, Technique):
    name = "prefix-tuning"
    memory_method = "prefix-tuning"
    kind = "peft"
    description = "Trainable key/value prefixes in every layer (PEFT prefix tuning)."
    Settings = VirtualTokenSettings

    def prepare(self, model, settings, env):
        from peft import PrefixTuningConfig, TaskType, get_peft_model

        peft_model = get_peft_model(
            model,
            PrefixTuningConfig(
                task_type=TaskType.CAUSAL_LM, num_virtual_tokens=int(settings["virtual_tokens"])
            ),
        )
        _pass_prefix_as_cache(peft_model)
        return peft_model


def _pass_prefix_as_cache(peft_model) -> None:
    """PEFT 0.21 hands the learned prefix to the model as ``past_key_values``; transformers 5's
    ``generate()`` also passes its own empty ``cache``, which wins, so generation would silently run
    without the prefix. At the first step, give the prefix to the model as its cache instead."""
    original = peft_model.prepare_inputs_for_generation

    def prepare_inputs_for_generation(*args, **kwargs):
        inputs = original(*args, **kwargs)
        prefix, cache = inputs.get("past_key_values"), inputs.get("cache")
        if prefix is not None and cache is not None and prefix is not cache:
            empty = getattr(cache, "get_seq_length", lambda: 1)() == 0
            if empty:
                inputs["cache"] = inputs.pop("past_key_values")
        return inputs

    peft_model.prepare_inputs_for_generation = prepare_inputs_for_generation


class PromptTuning(TrainableTechnique, Technique):
    name = "prompt-tuning"
    memory_method = "prompt-tuning"
    kind = "peft"
    description = "Soft prompt: trainable virtual-token embeddings before the input."
    Settings = PromptTuningSettings

    def prepare(self, model, settings, env):
        from peft import PromptTuningConfig, TaskType, get_peft_model

        return get_peft_model(
            model,
            PromptTuningConfig(
                task_type=TaskType.CAUSAL_LM, num_virtual_tokens=int(settings["virtual_tokens"])
            ),
        )


class PTuning(TrainableTechnique, Technique):
    name = "p-tuning"
    kind = "peft"
    description = "P-tuning: virtual tokens produced by a small trainable prompt encoder (MLP)."
    Settings = PTuningSettings

    def prepare(self, model, settings, env):
        from peft import PromptEncoderConfig, TaskType, get_peft_model

        cfg = PromptEncoderConfig(
            task_type=TaskType.CAUSAL_LM,
            num_virtual_tokens=int(settings["virtual_tokens"]),
            encoder_hidden_size=int(settings["encoder_hidden"]),
        )
        return get_peft_model(model, cfg)


@hookimpl
def advisor_register_techniques(register):
    for technique in (Lora(), QLora(), IA3(), PrefixTuning(), PromptTuning(), PTuning()):
        register(technique)
