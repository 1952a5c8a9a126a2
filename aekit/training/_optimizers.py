"""The trainer's optimizers: torch's fused Adam and SGD kernels, called with the least overhead.

``torch.optim.Adam(fused=True)`` runs the whole update in one kernel, but its
``step()`` spends as long in Python bookkeeping (hooks, grouping tensors by
device and dtype, per-step checks) as the kernel itself takes for a small
model. :class:`Adam` keeps torch's Adam (the same state layout, so its
``state_dict`` is torch's and checkpoints load in either) and replaces
``step()`` by one direct call of the same fused kernel per parameter group
when the group is a plain one (no amsgrad, maximize, capturable or
differentiable mode, a float learning rate); any other group goes through
torch's own ``step``. The update is bit-identical to torch's fused Adam.

References: Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
"""

from __future__ import annotations

import torch

__all__ = ["OPTIMIZERS", "Adam", "fusable", "make_optimizer"]


def fusable(params: list[torch.Tensor]) -> bool:
    """Whether torch's fused (single-kernel) optimizer step applies: float parameters on CPU or CUDA."""
    return bool(params) and all(p.device.type in ("cpu", "cuda") and p.dtype.is_floating_point for p in params)


class Adam(torch.optim.Adam):
    """torch's fused Adam with a direct call of its kernel (see the module docstring)."""

    def _plain(self, group: dict) -> bool:
        return (
            group["fused"]
            and not group["amsgrad"]
            and not group["maximize"]
            and not group["capturable"]
            and not group["differentiable"]
            and isinstance(group["lr"], float)
        )

    @torch.no_grad()
    def step(self, closure=None):
        if closure is not None or not all(self._plain(g) for g in self.param_groups):
            return super().step(closure)
        for group in self.param_groups:
            params, grads, exp_avgs, exp_avg_sqs, steps = [], [], [], [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:  # the layout torch.optim.Adam(fused=True) creates
                    state["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                params.append(p)
                grads.append(p.grad)
                exp_avgs.append(state["exp_avg"])
                exp_avg_sqs.append(state["exp_avg_sq"])
                steps.append(state["step"])
            if not params:
                continue
            torch._foreach_add_(steps, 1)
            beta1, beta2 = group["betas"]
            torch._fused_adam_(
                params, grads, exp_avgs, exp_avg_sqs, [], steps,
                lr=group["lr"], beta1=beta1, beta2=beta2, weight_decay=group["weight_decay"], eps=group["eps"],
                amsgrad=False, maximize=False, grad_scale=None, found_inf=None,
            )
        return None


def _sgd(params, trainer) -> torch.optim.Optimizer:
    params = list(params)
    return torch.optim.SGD(
        params, lr=trainer.learning_rate, momentum=trainer.momentum, nesterov=trainer.nesterov, fused=fusable(params)
    )


def _adam(params, trainer) -> torch.optim.Optimizer:
    params = list(params)
    return Adam(params, lr=trainer.learning_rate, fused=fusable(params))


OPTIMIZERS = {"sgd": _sgd, "adam": _adam}


def make_optimizer(name: str, params, trainer) -> torch.optim.Optimizer:
    """The optimizer ``name`` (a key of :data:`OPTIMIZERS`) over ``params`` with ``trainer``'s settings."""
    return OPTIMIZERS[name](params, trainer)
