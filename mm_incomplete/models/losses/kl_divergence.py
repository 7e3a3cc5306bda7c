"""KL divergence of a diagonal Gaussian embedding from the standard normal.

Shorthand: B batch, D embedding channels, H x W spatial size.

DMRNet (Robust Multimodal Learning via Representation Decoupling, ECCV 2024)
models each input as N(mu, diag(sigma^2)) and pulls it toward N(0, I):

    L_KL = mean_n sum_d 1/2 (sigma_nd^2 + mu_nd^2 - log sigma_nd^2 - 1)

where a *sample* n is one image in classification ((B, D) embeddings) and one
pixel in segmentation ((B, D, H, W) maps: the mean runs over B*H*W). We take
``log sigma^2`` (the network's output) directly instead of exponentiating and
taking the log again, which is equal and stays finite for large variances.
"""
import torch
import torch.nn as nn
from mmengine.registry import MODELS

from .precision import fp32_loss


@fp32_loss
def gaussian_kl_divergence(mu: torch.Tensor,
                           logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)), summed over channels (dim 1).

    Args:
        mu (Tensor): (B, D) or (B, D, H, W) means.
        logvar (Tensor): log variances, the shape of ``mu``.

    Returns:
        Tensor: (B,) or (B, H, W), one divergence per sample.
    """
    if mu.shape != logvar.shape:
        raise ValueError(f'mu {tuple(mu.shape)} and logvar '
                         f'{tuple(logvar.shape)} must have the same shape')
    if mu.dim() < 2:
        raise ValueError('expected (B, D, ...) embeddings with channels in '
                         f'dim 1, got shape {tuple(mu.shape)}')
    return 0.5 * (logvar.exp() + mu.pow(2) - logvar - 1).sum(1)


@MODELS.register_module()
class GaussianKLLoss(nn.Module):
    """KL regularizer of DMRNet's probabilistic embedding.

    Args:
        loss_weight (float): weight of the term (DMRNet: 1e-3).
        loss_name (str): key of the term in the loss dict; mmengine sums the
            keys that contain ``loss``.

    Attributes:
        loss_scale (float): a factor in [0, 1] applied on top of
            ``loss_weight``; :class:`LossScaleWarmupHook` sets it to hold the
            term off during a warm-up.

    Example:
        >>> loss = GaussianKLLoss(loss_weight=1.0)
        >>> mu, logvar = torch.zeros(2, 3), torch.zeros(2, 3)
        >>> float(loss(mu, logvar))
        0.0
        >>> float(loss(torch.ones(2, 3, 4, 4), torch.zeros(2, 3, 4, 4)))
        1.5
    """

    def __init__(self, loss_weight: float = 1e-3,
                 loss_name: str = 'loss_kl'):
        super().__init__()
        if 'loss' not in loss_name:
            raise ValueError('`loss_name` must contain "loss" so that '
                             f'mmengine back-propagates it, got {loss_name!r}')
        self.loss_weight = float(loss_weight)
        self._loss_name = loss_name
        self.loss_scale = 1.0

    @property
    def loss_name(self) -> str:
        return self._loss_name

    @fp32_loss
    def forward(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """Weighted mean KL over samples (pixels for (B, D, H, W) inputs).

        Args:
            mu (Tensor): (B, D) or (B, D, H, W) means.
            logvar (Tensor): log variances, the shape of ``mu``.

        Returns:
            Tensor: scalar.
        """
        kl = gaussian_kl_divergence(mu, logvar).mean()
        return kl * (self.loss_weight * self.loss_scale)

    def extra_repr(self) -> str:
        return (f'loss_weight={self.loss_weight}, '
                f'loss_name={self.loss_name!r}')
