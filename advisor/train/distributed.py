"""Training on several processes: a cell started by ``accelerate launch`` (a suite's ``gpus > 1``).

Every process of the launch runs ``advisor run``. They all load the task and the model and take part
in training: the shared loop (``advisor.train.loop.train``) hands its model and optimizer to
`accelerate <https://huggingface.co/docs/accelerate>`_'s ``Accelerator``, which wraps them for the
engine the launch configured (DDP, FSDP or DeepSpeed, from the ``--config_file`` the suite names),
and each process takes its share of every batch. Everything else is the main process's alone: the
baseline and final evaluations, saving, latency, and the one JSON result on stdout. The other
processes print nothing and exit when training is done.

After training, the main process must hold the whole trained model. With DDP and DeepSpeed ZeRO-1/2
every process already does. When the engine shards the parameters (FSDP, ZeRO-3), the loop trains a
copy and loads the gathered full state dict (``Accelerator.get_state_dict``) back into the model it
was given, so that techniques see the same in-place result as in one process.

Without a launch (``WORLD_SIZE`` unset or 1) none of this is imported or used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

#: how long a process waits in a collective for the others (the main process evaluates the baseline
#: alone while the others wait for it to join training)
COLLECTIVE_TIMEOUT = timedelta(hours=4)

#: set to 1 to gather the trained weights to the main process as a sharded run does, whatever the
#: engine (lets a CPU-only machine test that path under DDP)
GATHER_ENV = "ADVISOR_GATHER_STATE"


def world_size() -> int:
    """How many processes the launcher started (1 without a launch)."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


@dataclass
class Session:
    """The processes of one launched cell, through one ``Accelerator``."""

    accelerator: Any

    @property
    def is_main(self) -> bool:
        return bool(self.accelerator.is_main_process)

    @property
    def rank(self) -> int:
        return int(self.accelerator.process_index)

    @property
    def processes(self) -> int:
        return int(self.accelerator.num_processes)

    @property
    def engine(self) -> str:
        """The engine accelerate runs: ``MULTI_GPU`` (DDP), ``MULTI_CPU`` (DDP on gloo), ``FSDP``,
        ``DEEPSPEED``..."""
        return str(self.accelerator.distributed_type).rsplit(".", 1)[-1]

    @property
    def shards_parameters(self) -> bool:
        """Whether no single process holds the whole model while it trains (FSDP, DeepSpeed ZeRO-3)."""
        if os.environ.get(GATHER_ENV) == "1":
            return True
        if self.engine == "FSDP":
            return True
        if self.engine == "DEEPSPEED":
            plugin = self.accelerator.state.deepspeed_plugin
            return int(getattr(plugin, "zero_stage", 0) or 0) == 3
        return False

    def shard(self, indices: list[int]) -> list[int]:
        """This process's share of one batch of example indices (every process gets at least one:
        a process without work would leave the others waiting in the gradient all-reduce)."""
        mine = indices[self.rank :: self.processes]
        return mine or indices[:1]

    def owns_share(self, indices: list[int]) -> bool:
        """False when :meth:`shard` had to lend this process an example that another one trains on."""
        return self.rank < len(indices)

    def total(self, value: float) -> float:
        """``value`` summed over the processes."""
        import torch

        tensor = torch.tensor([float(value)], device=self.accelerator.device)
        return float(self.accelerator.reduce(tensor, reduction="sum").item())

    def barrier(self) -> None:
        self.accelerator.wait_for_everyone()


_session: Session | None = None


def session() -> Session | None:
    """The launched run's session (created on first use), or None in a single process."""
    global _session
    if world_size() <= 1:
        return None
    if _session is None:
        import torch
        from accelerate import Accelerator
        from accelerate.utils import InitProcessGroupKwargs

        accelerator = Accelerator(
            # no CUDA: the launched processes run on the CPU and talk over gloo (testable anywhere)
            cpu=not torch.cuda.is_available(),
            kwargs_handlers=[InitProcessGroupKwargs(timeout=COLLECTIVE_TIMEOUT)],
        )
        _session = Session(accelerator)
    return _session


def is_helper() -> bool:
    """True in a launched process other than the main one (it trains, and reports nothing)."""
    current = session()
    return current is not None and not current.is_main
