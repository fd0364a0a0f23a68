"""Parameter-efficient fine-tuning through PEFT: LoRA, QLoRA, IA3, prefix, prompt and P-tuning.

Each technique builds a PEFT config and wraps the model; the shared loop in ``advisor.train.loop``
trains the adapter. Adapters are saved in PEFT's own format by ``advisor run``.
"""

from __future__ import annotations

from advisor import TRAIN_DEFAULTS, Technique, TrainableTechnique, hookimpl

LLAMA_ATTENTION = "q_proj,k_proj,v_proj,o_proj"
LLAMA_MLP = "gate_proj,up_proj,down_proj"


def _targets(value) -> list[str]:
    if isinstance(value, str):
        value = value.split(",")
    return [v.strip() for v in value if v.strip()]


class Lora(TrainableTechnique, Technique):
    name = "lora"
    memory_method = "lora"
    kind = "peft"
    description = "Low-rank adapters (W + BA) on the chosen projections; mergeable into the weights."
    defaults = {
        **TRAIN_DEFAULTS,
        "learning_rate": 1e-3,
        "r": 8,
        "alpha": 16,
        "dropout": 0.05,
        "targets": "q_proj,v_proj",
    }

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
        base = AutoModelForCausalLM.from_pretrained(path, quantization_config=quant, device_map={"": 0})
        base = prepare_model_for_kbit_training(
            base, use_gradient_checkpointing=bool(settings["gradient_checkpointing"])
        )
        return get_peft_model(base, self.lora_config(settings))


class IA3(TrainableTechnique, Technique):
    name = "ia3"
    memory_method = "ia3"
    kind = "peft"
    description = "IA3: learned scaling vectors on keys, values and the MLP down-projection input."
    defaults = {
        **TRAIN_DEFAULTS,
        "learning_rate": 3e-3,
        "targets": "k_proj,v_proj,down_proj",
        "feedforward": "down_proj",
    }

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
    defaults = {**TRAIN_DEFAULTS, "learning_rate": 1e-2, "virtual_tokens": 16}

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
    defaults = {**TRAIN_DEFAULTS, "learning_rate": 3e-2, "virtual_tokens": 16}

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
    defaults = {**TRAIN_DEFAULTS, "learning_rate": 1e-2, "virtual_tokens": 16, "encoder_hidden": 128}

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
