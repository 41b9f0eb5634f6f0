"""CPU stand-in for ``flash_attn`` (see ../README.md): ``flash_attn_varlen_func`` in float64 torch."""
import torch

__version__ = "cpu-standin"


def _refuse(name, value, default):
    if value != default:
        raise NotImplementedError(f"flash_attn stand-in: {name}={value!r} is not implemented (only {default!r})")


def flash_attn_varlen_func(q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, dropout_p=0.0,
                           softmax_scale=None, causal=False, window_size=(-1, -1), softcap=0.0, alibi_slopes=None,
                           deterministic=False, return_attn_probs=False, block_table=None):
    """Attention over packed sequences: q (total_q, heads, d), k and v (total_k, kv_heads, d); sequence i is rows
    cu_seqlens[i]:cu_seqlens[i + 1]. Returns (total_q, heads, d) in q's dtype."""
    _refuse("dropout_p", dropout_p, 0.0)
    _refuse("window_size", tuple(window_size), (-1, -1))
    _refuse("softcap", softcap, 0.0)
    _refuse("alibi_slopes", alibi_slopes, None)
    _refuse("return_attn_probs", return_attn_probs, False)
    _refuse("block_table", block_table, None)
    heads, kv_heads, dim = q.shape[1], k.shape[1], q.shape[2]
    if heads % kv_heads:
        raise ValueError(f"{heads} query heads are not a multiple of {kv_heads} key/value heads")
    scale = dim ** -0.5 if softmax_scale is None else softmax_scale
    out = torch.zeros(q.shape[0], heads, v.shape[2], dtype=torch.float64, device=q.device)
    cq, ck = cu_seqlens_q.tolist(), cu_seqlens_k.tolist()
    for i in range(len(cq) - 1):
        qs = q[cq[i]:cq[i + 1]].double().transpose(0, 1)  # heads, Lq, d
        ks = k[ck[i]:ck[i + 1]].double().transpose(0, 1).repeat_interleave(heads // kv_heads, dim=0)
        vs = v[ck[i]:ck[i + 1]].double().transpose(0, 1).repeat_interleave(heads // kv_heads, dim=0)
        scores = qs @ ks.transpose(1, 2) * scale
        lq, lk = qs.shape[1], ks.shape[1]
        if causal:  # query row r sees keys up to r + (lk - lq) (bottom-right alignment)
            rows = torch.arange(lq, device=q.device)[:, None]
            cols = torch.arange(lk, device=q.device)[None, :]
            scores = scores.masked_fill(cols > rows + (lk - lq), float("-inf"))
        probs = torch.softmax(scores, dim=-1).nan_to_num(0.0)  # a row that sees no key gives zeros
        out[cq[i]:cq[i + 1]] = (probs @ vs).transpose(0, 1)
    return out.to(q.dtype)
