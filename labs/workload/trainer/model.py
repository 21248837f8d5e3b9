"""The model and its data: an MLP learning a fixed random 'teacher' network's labels.

The data is generated, never downloaded: batch ``step`` is drawn from a generator seeded with
(seed, step), so a resumed run sees exactly the batches an uninterrupted one would, and the
labels come from a teacher network fixed by the seed, so there is a real function to learn and
the loss falls.
"""

from __future__ import annotations

import torch
from torch import nn

IN_FEATURES = 256
CLASSES = 10


def build_model(hidden: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(IN_FEATURES, hidden), nn.ReLU(),
        nn.Linear(hidden, hidden), nn.ReLU(),
        nn.Linear(hidden, hidden), nn.ReLU(),
        nn.Linear(hidden, CLASSES),
    )


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def flops_per_sample(model: nn.Module) -> int:
    """Forward + backward of the linear layers: about 6 multiply-adds per weight per sample."""
    return 6 * parameter_count(model)


class SyntheticData:
    def __init__(self, seed: int, batch_size: int, device: torch.device) -> None:
        self.seed = seed
        self.batch_size = batch_size
        self.device = device
        gen = torch.Generator().manual_seed(seed ^ 0x5EED)
        teacher = nn.Sequential(nn.Linear(IN_FEATURES, 64), nn.Tanh(), nn.Linear(64, CLASSES))
        with torch.no_grad():
            for p in teacher.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
        self.teacher = teacher.to(device).requires_grad_(False)

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        gen = torch.Generator(device=self.device).manual_seed(self.seed * 1_000_003 + step)
        x = torch.randn(self.batch_size, IN_FEATURES, generator=gen, device=self.device)
        with torch.no_grad():
            y = self.teacher(x).argmax(dim=1)
        return x, y
