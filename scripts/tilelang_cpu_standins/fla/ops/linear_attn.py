"""CPU stand-in for ``fla.ops.linear_attn``."""
import torch


def fused_chunk_linear_attn(q, k, v, scale=None, initial_state=None, output_final_state=False, normalize=True,
                            head_first=False, cu_seqlens=None):
    """Causal linear attention o_t = sum_{s <= t} (scale * q_t . k_s) v_s on (batch, seq, heads, dim) tensors (no
    normalization); returns (o in q's dtype, the final state sum_s k_s^T v_s in float32 or None). Differentiable."""
    if normalize or head_first or cu_seqlens is not None:
        raise NotImplementedError("fla stand-in: only normalize=False, head_first=False, cu_seqlens=None")
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    q32, k32, v32 = q.float() * scale, k.float(), v.float()
    scores = torch.einsum("bthd,bshd->bhts", q32, k32)
    seq = q.shape[1]
    scores = scores.masked_fill(torch.ones(seq, seq, dtype=torch.bool, device=q.device).triu(1), 0.0)
    o = torch.einsum("bhts,bshd->bthd", scores, v32)
    state = torch.einsum("bshk,bshv->bhkv", k32, v32)
    if initial_state is not None:
        o = o + torch.einsum("bthk,bhkv->bthv", q32, initial_state.float())
        state = state + initial_state.float()
    return o.to(q.dtype), (state if output_final_state else None)
