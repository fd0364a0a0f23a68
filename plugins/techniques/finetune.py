"""Fine-tuning without adapters: BitFit (biases only), partial (last k layers) and full."""

from __future__ import annotations

from advisor import TRAIN_DEFAULTS, Technique, TrainableTechnique, hookimpl


def freeze(model) -> None:
    for p in model.parameters():
        p.requires_grad_(False)


def decoder_layers(model):
    """The list of transformer blocks of a causal LM (Llama/Mistral/Qwen: model.model.layers; GPT-2: transformer.h)."""
    for path in ("model.layers", "transformer.h", "gpt_neox.layers", "model.decoder.layers"):
        obj = model
        for attr in path.split("."):
            obj = getattr(obj, attr, None)
            if obj is None:
                break
        if obj is not None:
            return obj
    raise ValueError(f"cannot find the decoder layers of {type(model).__name__}")


class BitFit(TrainableTechnique, Technique):
    name = "bitfit"
    memory_method = "bitfit"
    kind = "peft"
    description = (
        "BitFit: train only bias terms. Models without biases (Llama, SmolLM2) get zero-initialised "
        "biases on their linear layers, so the function is unchanged before training."
    )
    defaults = {**TRAIN_DEFAULTS, "learning_rate": 1e-3}

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
    defaults = {**TRAIN_DEFAULTS, "learning_rate": 1e-4, "layers": 2}

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
    defaults = {**TRAIN_DEFAULTS, "learning_rate": 5e-5}

    def prepare(self, model, settings, env):
        for p in model.parameters():
            p.requires_grad_(True)
        return model


@hookimpl
def advisor_register_techniques(register):
    for technique in (BitFit(), PartialFT(), FullFT()):
        register(technique)
