"""DMRNet's probabilistic embedding: a feature as a Gaussian, sampled in
training.

Shorthand: B batch, C input channels, D embedding channels, H x W spatial
size, L feature levels.

For a fused feature h, DMRNet (ECCV 2024) predicts

    mu = BN(Conv1x1(h)),   log sigma^2 = BN(Conv1x1(h))

and passes on z = mu + eps * sigma, eps ~ N(0, I) in training and z = mu in
evaluation; :class:`~mm_incomplete.models.methods.ProbabilisticEmbeddingKL`
(or :class:`~mm_incomplete.models.losses.GaussianKLLoss`) pulls N(mu,
sigma^2) toward N(0, I). Vectors (B, C) are treated as 1x1 maps, so the
same module serves classification (after global pooling) and segmentation
(on a feature map before the decoder).
"""
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmengine.registry import MODELS


class GaussianEmbedding(NamedTuple):
    """Output of :class:`ProbabilisticEmbedding` (all the input's shape
    with D channels)."""
    z: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor


@MODELS.register_module()
class ProbabilisticEmbedding(BaseModule):
    """mu and log sigma^2 heads and the reparameterised sample.

    Args:
        in_channels (int): C.
        out_channels (int, optional): D; defaults to C, so the embedding can
            replace the feature it is computed from.
        init_cfg (dict, optional): mmengine initialisation config.

    Example:
        >>> emb = ProbabilisticEmbedding(8)
        >>> out = emb(torch.randn(2, 8, 5, 5))
        >>> out.z.shape, out.logvar.shape
        (torch.Size([2, 8, 5, 5]), torch.Size([2, 8, 5, 5]))
        >>> _ = emb.eval()
        >>> out = emb(torch.randn(2, 8))
        >>> torch.equal(out.z, out.mu)
        True
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: Optional[int] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        out_channels = out_channels or in_channels
        self.in_channels, self.out_channels = in_channels, out_channels
        self.mu_head = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(
                out_channels))
        self.logvar_head = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(
                out_channels))

    def forward(self, h: torch.Tensor) -> GaussianEmbedding:
        """Embed a feature.

        Args:
            h (Tensor): (B, C, H, W) map or (B, C) vector.

        Returns:
            GaussianEmbedding: ``z``, ``mu``, ``logvar``, each (B, D, H, W) or
            (B, D) like the input.
        """
        if h.dim() not in (2, 4) or h.shape[1] != self.in_channels:
            raise ValueError(
                f'{type(self).__name__} expects (B, {self.in_channels}) or '
                f'(B, {self.in_channels}, H, W) inputs, got shape '
                f'{tuple(h.shape)}')
        vector = h.dim() == 2
        x = h[:, :, None, None] if vector else h
        mu, logvar = self.mu_head(x), self.logvar_head(x)
        if self.training:
            z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        else:
            z = mu
        if vector:
            z, mu, logvar = (t.flatten(1) for t in (z, mu, logvar))
        return GaussianEmbedding(z, mu, logvar)

    @staticmethod
    def mean_variance(logvar: torch.Tensor) -> torch.Tensor:
        """Mean of sigma^2 over everything but the batch: (B,).

        The statistic DMRNet mines hard combinations with (the combination
        whose embeddings are the most uncertain).
        """
        return logvar.detach().exp().flatten(1).mean(1)


@MODELS.register_module()
class ProbabilisticEmbeddingNeck(BaseModule):
    """Probabilistic embeddings on chosen levels of a multi-level feature.

    Used between a backbone and a decode head: the chosen levels are replaced
    by their embedding z (sampled in training, the mean in evaluation); the
    other levels pass unchanged. :meth:`forward_with_stats` also returns each
    embedding's mu and log sigma^2 for the KL term.

    Args:
        in_channels (list[int]): channels of every level, C_1 ... C_L.
        in_index (int | list[int]): the levels to embed (DMRNet: the
            deepest, ``-1``).
        init_cfg (dict, optional): mmengine initialisation config.

    Example:
        >>> neck = ProbabilisticEmbeddingNeck([4, 8], in_index=-1)
        >>> feats = [torch.randn(2, 4, 8, 8), torch.randn(2, 8, 4, 4)]
        >>> outs, stats = neck.forward_with_stats(feats)
        >>> [o.shape[1] for o in outs], len(stats), stats[0].mu.shape
        ([4, 8], 1, torch.Size([2, 8, 4, 4]))
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 in_index: Union[int, Sequence[int]] = -1,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        in_channels = list(in_channels)
        L = len(in_channels)
        indices = [in_index] if isinstance(in_index, int) else list(in_index)
        if not indices or any(not -L <= i < L for i in indices):
            raise ValueError(f'`in_index` {in_index!r} is out of range for '
                             f'{L} levels (`in_channels` {in_channels})')
        self.in_channels = in_channels
        self.in_index = sorted({i % L for i in indices})
        self.embeddings = nn.ModuleList(
            ProbabilisticEmbedding(in_channels[i]) for i in self.in_index)

    def forward_with_stats(
            self, inputs: Sequence[torch.Tensor]
    ) -> Tuple[Tuple[torch.Tensor, ...], List[GaussianEmbedding]]:
        """Embed the chosen levels.

        Args:
            inputs (list[Tensor]): L maps, level l of shape (B, C_l, H_l, W_l).

        Returns:
            tuple: the L levels with the chosen ones replaced by z, and one
            :class:`GaussianEmbedding` per chosen level.
        """
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'{type(self).__name__} was built for '
                             f'{len(self.in_channels)} levels, got '
                             f'{len(inputs)}')
        outs = list(inputs)
        stats = []
        for i, emb in zip(self.in_index, self.embeddings):
            out = emb(inputs[i])
            outs[i] = out.z
            stats.append(out)
        return tuple(outs), stats

    def forward(self, inputs: Sequence[torch.Tensor]
                ) -> Tuple[torch.Tensor, ...]:
        """As :meth:`forward_with_stats`, the features only."""
        return self.forward_with_stats(inputs)[0]

    def forward_record(self, inputs: Sequence[torch.Tensor]):
        """The task models' neck protocol: features and what to record,
        ``extras['embedding_stats']`` (read by
        :class:`ProbabilisticEmbeddingKL` and DMRNet's mining score)."""
        outs, stats = self.forward_with_stats(inputs)
        return outs, dict(embedding_stats=stats)

