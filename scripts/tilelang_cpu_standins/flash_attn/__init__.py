"""CPU stand-in for ``flash_attn`` (see ../README.md): ``flash_attn_varlen_func`` and ``flash_attn_with_kvcache`` in
float64 torch."""
import torch

__version__ = "cpu-standin"


def _refuse(name, value, default):
    if value is not default and value != default:
        raise NotImplementedError(f"flash_attn stand-in: {name}={value!r} is not implemented (only {default!r})")


def _attend(qs, ks, vs, scale, causal):
    """softmax(qs ks^T * scale) vs in float64 for one sequence: qs (heads, Lq, d), ks and vs (kv_heads, Lk, d);
    key/value head h serves query heads h * g ... h * g + g - 1. Returns (Lq, heads, dv)."""
    heads, kv_heads = qs.shape[0], ks.shape[0]
    if heads % kv_heads:
        raise ValueError(f"{heads} query heads are not a multiple of {kv_heads} key/value heads")
    ks = ks.double().repeat_interleave(heads // kv_heads, dim=0)
    vs = vs.double().repeat_interleave(heads // kv_heads, dim=0)
    scores = qs.double() @ ks.transpose(1, 2) * scale
    lq, lk = qs.shape[1], ks.shape[1]
    if causal:  # query row r sees keys up to r + (lk - lq) (bottom-right alignment)
        rows = torch.arange(lq, device=qs.device)[:, None]
        cols = torch.arange(lk, device=qs.device)[None, :]
        scores = scores.masked_fill(cols > rows + (lk - lq), float("-inf"))
    probs = torch.softmax(scores, dim=-1).nan_to_num(0.0)  # a row that sees no key gives zeros
    return (probs @ vs).transpose(0, 1)


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
    scale = q.shape[2] ** -0.5 if softmax_scale is None else softmax_scale
    out = torch.zeros(q.shape[0], q.shape[1], v.shape[2], dtype=torch.float64, device=q.device)
    cq, ck = cu_seqlens_q.tolist(), cu_seqlens_k.tolist()
    for i in range(len(cq) - 1):
        out[cq[i]:cq[i + 1]] = _attend(q[cq[i]:cq[i + 1]].transpose(0, 1), k[ck[i]:ck[i + 1]].transpose(0, 1),
                                       v[ck[i]:ck[i + 1]].transpose(0, 1), scale, causal)
    return out.to(q.dtype)


def _cached_rows(cache, b, length, block_table):
    """The first ``length`` rows (length, kv_heads, d) of sequence b's cache: ``cache[b]``, or with a block table
    the pages ``block_table[b, 0], block_table[b, 1], ...`` of a paged cache (num_blocks, page_size, kv_heads, d)."""
    if block_table is None:
        if length > cache.shape[1]:
            raise ValueError(f"cache_seqlens[{b}] = {length} exceeds the cache's {cache.shape[1]} rows")
        return cache[b, :length]
    page = cache.shape[1]
    pages = -(-length // page)
    if pages > block_table.shape[1]:
        raise ValueError(f"cache_seqlens[{b}] = {length} needs {pages} pages; block_table has {block_table.shape[1]}")
    index = block_table[b, :pages].long()
    return cache[index].reshape(pages * page, *cache.shape[2:])[:length]


def flash_attn_with_kvcache(q, k_cache, v_cache, k=None, v=None, rotary_cos=None, rotary_sin=None,
                            cache_seqlens=None, cache_batch_idx=None, cache_leftpad=None, block_table=None,
                            softmax_scale=None, causal=False, window_size=(-1, -1), softcap=0.0,
                            rotary_interleaved=True, alibi_slopes=None, num_splits=0, return_softmax_lse=False):
    """Attention of q (batch, Lq, heads, d) over a key/value cache, k_cache and v_cache (batch, seqlen_cache,
    kv_heads, d), or with ``block_table`` (batch, max_pages) paged caches (num_blocks, page_size, kv_heads, d).
    Sequence b sees its first ``cache_seqlens[b]`` cached rows (an int: the same for all; None: the whole cache);
    ``causal`` aligns to the bottom right. Returns (batch, Lq, heads, dv) in q's dtype. Appending new keys
    (``k``, ``v``), rotary embeddings and the other options are refused; ``num_splits`` only splits the GPU work."""
    _refuse("k", k, None)
    _refuse("v", v, None)
    _refuse("rotary_cos", rotary_cos, None)
    _refuse("rotary_sin", rotary_sin, None)
    _refuse("cache_batch_idx", cache_batch_idx, None)
    _refuse("cache_leftpad", cache_leftpad, None)
    _refuse("window_size", tuple(window_size), (-1, -1))
    _refuse("softcap", softcap, 0.0)
    _refuse("alibi_slopes", alibi_slopes, None)
    _refuse("return_softmax_lse", return_softmax_lse, False)
    batch = q.shape[0]
    if cache_seqlens is None:
        if block_table is not None:
            raise ValueError("flash_attn stand-in: a paged cache (block_table) needs cache_seqlens")
        lengths = [k_cache.shape[1]] * batch
    elif isinstance(cache_seqlens, int):
        lengths = [cache_seqlens] * batch
    else:
        lengths = [int(n) for n in cache_seqlens.tolist()]
    scale = q.shape[-1] ** -0.5 if softmax_scale is None else softmax_scale
    out = torch.zeros(*q.shape[:3], v_cache.shape[-1], dtype=torch.float64, device=q.device)
    for b in range(batch):
        ks = _cached_rows(k_cache, b, lengths[b], block_table).transpose(0, 1)
        vs = _cached_rows(v_cache, b, lengths[b], block_table).transpose(0, 1)
        out[b] = _attend(q[b].transpose(0, 1), ks, vs, scale, causal)
    return out.to(q.dtype)
