"""Fine-tuning without adapters: BitFit (biases only), partial (last k layers) and full."""

from __future__ import annotations

from dataclasses import dataclass

from advisor import Technique, TrainableTechnique, TrainSettings, hookimpl, setting


def freeze(model) -> None:
    for p in model.parameters():
        p.requires_grad_(False)


def decoder_layers(model):
    """The transformer blocks of a causal LM: model.model.layers (Llama, Mistral, Qwen), transformer.h
    (GPT-2), gpt_neox.layers or model.decoder.layers."""
    for path in ("model.layers", "transformer.h", "gpt_neox.layers", "model.decoder.layers"):
        obj = model
        for attr in path.split("."):
            obj = getattr(obj, attr, None)
            if obj is None:
                break
        if obj is not None:
            return obj
    raise ValueError(f"cannot find the decoder layers of {type(model).__name__}")


@dataclass
class BitFitSettings(TrainSettings):
    learning_rate: float = 1e-3


@dataclass
class PartialFTSettings(TrainSettings):
    learning_rate: float = 1e-4
    layers: int = setting(2, "how many of the last transformer layers train (at most all of them)")

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_min("layers", 1)


@dataclass
class FullFTSettings(TrainSettings):
    learning_rate: float = 5e-5


class BitFit(TrainableTechnique, Technique):
    name = "bitfit"
    memory_method = "bitfit"
    kind = "peft"
    description = (
        "BitFit: train only bias terms. Models without biases (Llama, SmolLM2) get zero-initialised "
        "biases on their linear layers, so the function is unchanged before training."
    )
    Settings = BitFitSettings

    def prepare(self, model, settings, env):
        import torch

        freeze(model)
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.Linear) and "lm_head" not in name:
                if module.bias is None:
                    module.bias = torch.nn.Parameter(
                        torch.zeros(
                            module.out_features, device=module.weight.device, dtype=module.weight.dtype
                        )
                    )
                module.bias.requires_grad_(True)
        return model


class PartialFT(TrainableTechnique, Technique):
    name = "partial-ft"
    memory_method = "partial"
    kind = "full"
    description = "Freeze everything but the last k transformer layers (and the final norm)."
    Settings = PartialFTSettings

    def prepare(self, model, settings, env):
        freeze(model)
        layers = decoder_layers(model)
        k = max(1, min(int(settings["layers"]), len(layers)))
        for layer in list(layers)[-k:]:
            for p in layer.parameters():
                p.requires_grad_(True)
        norm = getattr(getattr(model, "model", model), "norm", None)
        if norm is not None:
            for p in norm.parameters():
                p.requires_grad_(True)
        return model


class FullFT(TrainableTechnique, Technique):
    name = "full-ft"
    memory_method = "full"
    kind = "full"
    description = "Full fine-tuning: every parameter trains (AdamW; bf16 autocast on a GPU)."
    Settings = FullFTSettings

    def prepare(self, model, settings, env):
        for p in model.parameters():
            p.requires_grad_(True)
        return model


@hookimpl
def advisor_register_techniques(register):
    for technique in (BitFit(), PartialFT(), FullFT()):
        register(technique)
