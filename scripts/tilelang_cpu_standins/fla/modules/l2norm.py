"""CPU stand-in for ``fla.modules.l2norm``."""
import torch


@torch.no_grad()
def l2norm_fwd(x, eps=1e-6, output_dtype=None):
    """(x / sqrt(sum(x^2, last dim) + eps), the reciprocal norms), computed in float32 as fla does. Like fla's
    forward kernel it records no autograd graph: the result is a new leaf tensor."""
    x32 = x.float()
    rstd = torch.rsqrt(x32.pow(2).sum(-1, keepdim=True) + eps)
    return (x32 * rstd).to(output_dtype or x.dtype), rstd.squeeze(-1)
