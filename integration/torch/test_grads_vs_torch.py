#!/usr/bin/python3
"""The gradient of every differentiable libgraphc op, computed by
`graphc grad` (reverse-mode autodiff run by the reference interpreter),
checked against PyTorch autograd on fresh random inputs.

    /usr/bin/python3 integration/torch/test_grads_vs_torch.py [-k SUBSTRING]... [-j N] [-v]

Environment:
    GRAPHC_BIN        the graphc binary (default /work/main/build/tools/graphc)
    GRAPHC_TEST_SEED  the master seed; a fresh one is drawn (and printed) when unset

Each case is a small forward body ending in %y. The graph adds a random
input r of %y's type and the loss %l = sum(%y * r), so every element of the
result is weighted differently; every `param` input gets its gradient.
Each case runs twice: in f64 and in f32 (the body's {T}). The reference is
torch autograd in float64 on the same input values (upcast from f32 for the
f32 run): the interpreter computes every op in double and rounds once per
op, so f64 results agree to ~1e-12 and f32 ones to a few f32 ulps of the
largest gradient element. Inputs come from a generator seeded by (master
seed, crc32(case name)), so a failure reproduces with the printed seed.
Floats are a random sign times U[0.5, 1.5) (never 0, no ties), 'pos' is
U[0.5, 1.5).

A few graphs graphc must refuse (a non-scalar loss, an integer param, a
data-dependent op inside a checkpoint region) must exit 1 with one line on
stderr. Ends with the worst error per dtype and "N passed, N failed".
"""

import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zlib

import numpy as np
import torch
import torch.nn.functional as F

GRAPHC = os.environ.get('GRAPHC_BIN', '/work/main/build/tools/graphc')
# |got - want| <= TOL * (|want| + 0.05 * max|want| + 1e-6), per dtype.
TOL = {'f64': 1e-9, 'f32': 3e-5}
NP = {'f32': np.float32, 'f64': np.float64, 'i64': np.int64, 'bool': np.bool_}


class Case:
    """decl: the input list with {T} for the float dtype; gens: name -> 'pos',
    ('int', lo, hi), 'bool' or a function (rng, shape) -> array; ref(**tensors) -> y; out: %y's declared type
    (with {T}) when it uses symbols; syms: the symbols' values."""

    def __init__(self, name, decl, body, ref, gens=None, out=None, syms=None, dtypes=('f64', 'f32')):
        self.name, self.decl, self.body, self.ref = name, decl, body, ref
        self.gens, self.out, self.syms, self.dtypes = gens or {}, out, syms or {}, dtypes


CASES = []


def case(*a, **k):
    CASES.append(Case(*a, **k))


def parse_decl(decl):
    """[(name, dtype, [dims], role)] from 'x: f32[B, 3] param, ...'."""
    return [(n, dt, [d.strip() for d in dims.split(',') if d.strip()], role)
            for n, dt, dims, role in re.findall(r'(\w+)\s*:\s*(\w+)\[([^\]]*)\]\s*(\w+)', decl)]


def dim_value(d, syms):
    return int(eval(d.replace('//', '//'), {}, dict(syms)))


def make_value(rng, dt, shape, gen):
    if callable(gen):
        return gen(rng, shape)
    if dt == 'bool' or gen == 'bool':
        return rng.random(shape) < 0.5
    if dt in ('i64', 'i32'):
        lo, hi = gen[1], gen[2]
        return rng.integers(lo, hi, size=shape)
    v = rng.uniform(0.5, 1.5, shape)
    if gen != 'pos':
        v = v * np.where(rng.random(shape) < 0.5, -1.0, 1.0)
    return v


def run_case(c, dt, seed, keep):
    rng = np.random.default_rng([seed, zlib.crc32(c.name.encode())])
    decl = c.decl.replace('{T}', dt)
    ins = parse_decl(decl)
    vals = {}
    for name, idt, dims, role in ins:
        shape = tuple(dim_value(d, c.syms) for d in dims)
        if role == 'symbol':
            vals[name] = np.array(c.syms[name], dtype=np.int64)
            continue
        v = make_value(rng, idt, shape, c.gens.get(name))
        vals[name] = np.asarray(v).astype(NP[idt]).reshape(shape)
    # torch reference in float64
    tens = {}
    for name, idt, dims, role in ins:
        t = torch.from_numpy(np.array(vals[name]))
        if t.is_floating_point():
            t = t.double()
            if role == 'param':
                t.requires_grad_(True)
        tens[name] = t
    y = c.ref(**tens)
    out_ty = (c.out or '{T}[%s]' % ', '.join(map(str, y.shape))).replace('{T}', dt)
    r = rng.uniform(-1.0, 1.0, tuple(y.shape)).astype(NP[out_ty.split('[')[0]])
    (y * torch.from_numpy(r).double()).sum().backward()
    text = 'graph t(%s, r: %s input) {\n%s\n  %%m = mul(%%y, r)\n  %%l = sum(%%m)\n  return %%l\n}\n' % (
        decl, out_ty, c.body.replace('{T}', dt))
    tmp = tempfile.mkdtemp(prefix='gcgrad_')
    errs, worst = check_graphc(text, ins, vals, r, tens, c, dt, tmp)
    if keep and errs:
        errs.append('kept ' + tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return errs, worst


def check_graphc(text, ins, vals, r, tens, c, dt, tmp):
    with open(os.path.join(tmp, 't.gc'), 'w') as f:
        f.write(text)
    args = [GRAPHC, 'grad', os.path.join(tmp, 't.gc'), '--out', os.path.join(tmp, 'out')]
    for name, idt, dims, role in ins:
        if role == 'symbol':
            args += ['--sym', '%s=%d' % (name, c.syms[name])]
            continue
        np.save(os.path.join(tmp, name + '.npy'), vals[name])
        args += ['--in', '%s=%s' % (name, os.path.join(tmp, name + '.npy'))]
    np.save(os.path.join(tmp, 'r.npy'), r)
    args += ['--in', 'r=%s' % os.path.join(tmp, 'r.npy')]
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        return ['graphc grad exited %d: %s' % (p.returncode, p.stderr.strip())], 0.0
    errs, worst = [], 0.0
    for name, idt, dims, role in ins:
        if role != 'param':
            continue
        got = np.load(os.path.join(tmp, 'out', 'grad_%s.npy' % name)).astype(np.float64)
        g = tens[name].grad
        want = np.zeros(got.shape) if g is None else g.numpy()
        if got.shape != want.shape:
            errs.append('%s: shape %s, want %s' % (name, got.shape, want.shape))
            continue
        scale = np.abs(want) + 0.05 * (np.abs(want).max() if want.size else 0) + 1e-6
        rel = np.abs(got - want) / scale
        e = float(rel.max()) if rel.size else 0.0
        if not np.isfinite(got).all():
            e = float('inf')
        worst = max(worst, e)
        if e > TOL[dt]:
            i = int(np.argmax(rel))
            errs.append('%s: error %.3g at flat %d: got %.9g, want %.9g' % (
                name, e, i, got.reshape(-1)[i], want.reshape(-1)[i]))
    return errs, worst


# ---- reference helpers -------------------------------------------------------------

def splitmix64(z):
    z = (z + np.uint64(0x9e3779b97f4a7c15))
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xbf58476d1ce4e5b9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94d049bb133111eb)
    return z ^ (z >> np.uint64(31))


def dropout_ref(x, seed, p):
    """libgraphc's dropout mask (docs/ops.md), applied with torch ops."""
    with np.errstate(over='ignore'):
        idx = np.arange(x.numel(), dtype=np.uint64)
        h = splitmix64(np.uint64(int(seed)) ^ (np.uint64(0x9e3779b97f4a7c15) * idx))
    u = (h >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    keep = torch.from_numpy((u >= p).reshape(tuple(x.shape)))
    return x * keep.double() * (1.0 / (1.0 - p))


def keep_first_key(rng, shape):
    """A random bool mask that keeps key 0, so no row is fully masked
    (PyTorch 1.13's softmax gives NaN there; libgraphc gives zeros)."""
    m = rng.random(shape) < 0.5
    m[..., 0] = True
    return m


def attention_ref(q, k, v, mask=None, causal=False, scale=None, score_fn=None):
    s = q @ k.transpose(-2, -1) * (scale if scale is not None else q.shape[-1] ** -0.5)
    if score_fn is not None:
        s = score_fn(s)
    if causal:
        i = torch.arange(s.shape[-2]).unsqueeze(1)
        j = torch.arange(s.shape[-1]).unsqueeze(0)
        s = s.masked_fill(j > i, float('-inf'))
    if mask is not None:
        s = s.masked_fill(~mask, float('-inf')) if mask.dtype == torch.bool else s + mask
    return torch.softmax(s, -1) @ v


# ---- cases ---------------------------------------------------------------------------

X = 'x: {T}[3, 4] param'
for op, fn, gen in [('neg', torch.neg, None), ('abs', torch.abs, None), ('relu', torch.relu, None),
                    ('exp', torch.exp, None), ('log', torch.log, 'pos'), ('sqrt', torch.sqrt, 'pos'),
                    ('rsqrt', torch.rsqrt, 'pos'), ('tanh', torch.tanh, None),
                    ('sigmoid', torch.sigmoid, None), ('silu', F.silu, None), ('erf', torch.erf, None),
                    ('sin', torch.sin, None), ('cos', torch.cos, None), ('gelu', F.gelu, None)]:
    case(op, X, '  %%y = %s(x)' % op, lambda x, fn=fn: fn(x), {'x': gen})
case('gelu[tanh]', X, '  %y = gelu(x, approximate=tanh)', lambda x: F.gelu(x, approximate='tanh'))

B2 = 'a: {T}[B, 1, 4] param, b: {T}[3, 1] param'
for op, fn in [('add', torch.add), ('sub', torch.sub), ('mul', torch.mul), ('div', torch.div),
               ('maximum', torch.maximum), ('minimum', torch.minimum)]:
    case(op + '[broadcast]', B2, '  %%y = %s(a, b)' % op, lambda a, b, fn=fn: fn(a, b),
         out='{T}[B, 3, 4]', syms={'B': 2})
case('pow', 'a: {T}[3, 4] param, b: {T}[4] param', '  %y = pow(a, b)', lambda a, b: a ** b, {'a': 'pos'})
case('pow[int-exp]', 'a: {T}[3, 4] param, b: i64[] input', '  %y = pow(a, b)', lambda a, b: a ** b,
     {'b': ('int', 2, 4)})
case('where', 'c: bool[3, 1] input, a: {T}[3, 4] param, b: {T}[4] param', '  %y = where(c, a, b)',
     lambda c, a, b: torch.where(c, a, b))
case('cast', 'x: {T}[3, 4] param', '  %c = cast(x, dtype=f64)\n  %y = exp(%c)', lambda x: torch.exp(x),
     out='f64[3, 4]')
case('comparisons[no-grad]', 'a: {T}[3, 4] param, b: {T}[3, 4] param',
     '  %c = lt(a, b)\n  %y = where(%c, a, b)', lambda a, b: torch.where(a < b, a, b))

R = 'x: {T}[2, B, 4] param'
case('sum', R, '  %y = sum(x, dim=[1])', lambda x: x.sum(1), out='{T}[2, 4]', syms={'B': 3})
case('sum[keepdim,all]', R, '  %y = sum(x, dim=[0, 2], keepdim=true)', lambda x: x.sum((0, 2), keepdim=True),
     out='{T}[1, B, 1]', syms={'B': 3})
case('mean[symbolic]', R, '  %y = mean(x, dim=[1])', lambda x: x.mean(1), out='{T}[2, 4]', syms={'B': 3})
case('mean[all]', R, '  %y = mean(x)', lambda x: x.mean(), out='{T}[]', syms={'B': 3})
case('amax', R, '  %y = amax(x, dim=[1, 2])', lambda x: x.amax((1, 2)), out='{T}[2]', syms={'B': 3})
case('amin', R, '  %y = amin(x, dim=[0])', lambda x: x.amin(0), out='{T}[B, 4]', syms={'B': 3})
case('softmax', R, '  %y = softmax(x, dim=1)', lambda x: torch.softmax(x, 1), out='{T}[2, B, 4]', syms={'B': 3})
case('log_softmax', R, '  %y = log_softmax(x, dim=-1)', lambda x: torch.log_softmax(x, -1),
     out='{T}[2, B, 4]', syms={'B': 3})
case('argmax[no-grad]', R, '  %i = argmax(x, dim=2, keepdim=true)\n  %y = gather(x, %i, dim=2)',
     lambda x: x.gather(2, x.argmax(2, keepdim=True)), out='{T}[2, B, 1]', syms={'B': 3})

case('layer_norm', 'x: {T}[B, 3, 5] param, w: {T}[5] param, b: {T}[5] param',
     '  %y = layer_norm(x, w, b, normalized_shape=[5])', lambda x, w, b: F.layer_norm(x, (5,), w, b),
     out='{T}[B, 3, 5]', syms={'B': 2})
case('layer_norm[2d,no-affine]', 'x: {T}[2, 3, 5] param', '  %y = layer_norm(x, normalized_shape=[3, 5], eps=0.001)',
     lambda x: F.layer_norm(x, (3, 5), eps=1e-3))
case('cross_entropy', 'z: {T}[B, 5] param, t: i64[B] input', '  %y = cross_entropy(z, t)',
     lambda z, t: F.cross_entropy(z, t), {'t': ('int', 0, 5)}, out='{T}[]', syms={'B': 6})
case('cross_entropy[ignore,smoothing]', 'z: {T}[7, 5] param, t: i64[7] input',
     '  %y = cross_entropy(z, t, ignore_index=4, label_smoothing=0.15)',
     lambda z, t: F.cross_entropy(z, t, ignore_index=4, label_smoothing=0.15), {'t': ('int', 0, 5)})
for red in ('mean', 'sum', 'none'):
    case('mse_loss[%s]' % red, 'a: {T}[3, 4] param, b: {T}[3, 4] param',
         '  %%y = mse_loss(a, b, reduction=%s)' % red, lambda a, b, red=red: F.mse_loss(a, b, reduction=red))
case('dropout', 'x: {T}[4, 6] param, s: i64[] input', '  %y = dropout(x, s, p=0.25)',
     lambda x, s: dropout_ref(x, s, 0.25), {'s': ('int', 0, 1 << 40)})

case('matmul[batched]', 'a: {T}[2, 1, 3, 4] param, b: {T}[3, 4, 2] param', '  %y = matmul(a, b)',
     lambda a, b: a @ b)
case('matmul[vec]', 'a: {T}[4] param, b: {T}[2, 4, 3] param', '  %y = matmul(a, b)', lambda a, b: a @ b)
case('matmul[mat-vec]', 'a: {T}[B, 4] param, b: {T}[4] param', '  %y = matmul(a, b)', lambda a, b: a @ b,
     out='{T}[B]', syms={'B': 3})
case('linear', 'x: {T}[B, 2, 4] param, w: {T}[3, 4] param, b: {T}[3] param', '  %y = linear(x, w, b)',
     lambda x, w, b: F.linear(x, w, b), out='{T}[B, 2, 3]', syms={'B': 2})
case('linear[1d]', 'x: {T}[4] param, w: {T}[3, 4] param', '  %y = linear(x, w)', lambda x, w: F.linear(x, w))
case('conv2d', 'x: {T}[2, 3, 6, 5] param, w: {T}[4, 3, 3, 2] param, b: {T}[4] param',
     '  %y = conv2d(x, w, b, stride=[2, 1], padding=[1, 1])',
     lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 1)))
case('conv2d[groups,dilation]', 'x: {T}[1, 4, 7, 7] param, w: {T}[6, 2, 2, 3] param',
     '  %y = conv2d(x, w, dilation=[2, 1], groups=2, padding=[2])',
     lambda x, w: F.conv2d(x, w, dilation=(2, 1), groups=2, padding=2))
case('max_pool2d', 'x: {T}[2, 3, 6, 7] param', '  %y = max_pool2d(x, kernel_size=[2, 3], stride=[2])',
     lambda x: F.max_pool2d(x, (2, 3), 2))
case('max_pool2d[pad,dilation,ceil]', 'x: {T}[1, 2, 7, 7] param',
     '  %y = max_pool2d(x, kernel_size=[3], stride=[2], padding=[1], dilation=[2], ceil_mode=true)',
     lambda x: F.max_pool2d(x, 3, 2, 1, 2, ceil_mode=True))
case('avg_pool2d', 'x: {T}[2, 2, 5, 6] param',
     '  %y = avg_pool2d(x, kernel_size=[3, 2], stride=[2, 2], padding=[1, 1], ceil_mode=true, count_include_pad=false)',
     lambda x: F.avg_pool2d(x, (3, 2), 2, 1, ceil_mode=True, count_include_pad=False))
case('avg_pool2d[include-pad]', 'x: {T}[2, 5, 5] param', '  %y = avg_pool2d(x, kernel_size=[3], stride=[2], padding=[1])',
     lambda x: F.avg_pool2d(x, 3, 2, 1))
case('adaptive_avg_pool2d', 'x: {T}[2, 3, 7, 5] param', '  %y = adaptive_avg_pool2d(x, output_size=[3, 2])',
     lambda x: F.adaptive_avg_pool2d(x, (3, 2)))

case('reshape[symbolic]', 'x: {T}[B, 2, 3] param', '  %y = reshape(x, shape=[3, B*2])',
     lambda x: x.reshape(3, -1), out='{T}[3, 2*B]', syms={'B': 2})
case('permute', 'x: {T}[2, 3, 4] param', '  %y = permute(x, dims=[1, 2, 0])', lambda x: x.permute(1, 2, 0))
case('transpose', 'x: {T}[2, 3, 4] param', '  %y = transpose(x, dim0=0, dim1=2)', lambda x: x.transpose(0, 2))
case('expand', 'x: {T}[3, 1] param', '  %y = expand(x, shape=[2, 3, 5])', lambda x: x.expand(2, 3, 5))
case('slice', 'x: {T}[3, 9] param', '  %y = slice(x, dim=1, start=1, end=-1, step=3)', lambda x: x[:, 1:-1:3])
case('cat[symbolic]', 'a: {T}[S, 3] param, b: {T}[2, 3] param, c: {T}[S, 3] param', '  %y = cat(a, b, c, dim=0)',
     lambda a, b, c: torch.cat([a, b, c], 0), out='{T}[2*S + 2, 3]', syms={'S': 2})
case('split', 'x: {T}[2, 7] param', '  %a, %b, %c = split(x, dim=1, sizes=[3, 1, 3])\n  %y = mul(%a, %c)',
     lambda x: x[:, :3] * x[:, 4:])
case('squeeze/unsqueeze', 'x: {T}[3, 1, 4] param', '  %s = squeeze(x)\n  %y = unsqueeze(%s, dim=-1)',
     lambda x: x.squeeze().unsqueeze(-1))
case('index_select', 'x: {T}[4, 3] param, i: i64[6] input', '  %y = index_select(x, i, dim=0)',
     lambda x, i: x.index_select(0, i), {'i': ('int', 0, 4)})
case('gather', 'x: {T}[3, 4] param, i: i64[3, 5] input', '  %y = gather(x, i, dim=1)',
     lambda x, i: x.gather(1, i), {'i': ('int', 0, 4)})
case('embedding', 'i: i64[2, 5] input, w: {T}[4, 3] param', '  %y = embedding(i, w)',
     lambda i, w: F.embedding(i, w), {'i': ('int', 0, 4)})

CK = ('  %h = linear(x, w)\n  %y = {OP}(%h, w) region(hi: {T}[2, 3], wi: {T}[3, 3]) {\n'
      '    %a = tanh(hi)\n    %b = linear(%a, wi)\n    %c = mul(%b, hi)\n    return %c\n  }')
for op in ('checkpoint', 'call'):
    case(op, 'x: {T}[2, 3] param, w: {T}[3, 3] param', CK.replace('{OP}', op),
         lambda x, w: F.linear(torch.tanh(F.linear(x, w)), w) * F.linear(x, w))

QKV = 'q: {T}[2, 2, 4, 3] param, k: {T}[2, 2, 5, 3] param, v: {T}[2, 2, 5, 2] param'
case('attention', QKV, '  %y = scaled_dot_product_attention(q, k, v)', lambda q, k, v: attention_ref(q, k, v))
case('attention[causal,scale]', QKV, '  %y = scaled_dot_product_attention(q, k, v, causal=true, scale=0.4)',
     lambda q, k, v: attention_ref(q, k, v, causal=True, scale=0.4))
case('attention[bool-mask]', QKV + ', mk: bool[4, 5] input',
     '  %y = scaled_dot_product_attention(q, k, v, mk, has_mask=true)',
     lambda q, k, v, mk: attention_ref(q, k, v, mask=mk), {'mk': keep_first_key})
case('attention[float-mask-param]', QKV + ', mk: {T}[2, 1, 4, 5] param',
     '  %y = scaled_dot_product_attention(q, k, v, mk, has_mask=true)',
     lambda q, k, v, mk: attention_ref(q, k, v, mask=mk))
case('attention[score-fn]', QKV + ', hb: {T}[2] param',
     '  %y = scaled_dot_product_attention(q, k, v, hb, causal=true) region(s: {T}[2, 2, 4, 5], b: i64[2, 1, 1, 1],\n'
     '      h: i64[1, 2, 1, 1], qi: i64[1, 1, 4, 1], ki: i64[1, 1, 1, 5], c: {T}[2]) {\n'
     '    %hf = reshape(h, shape=[2])\n    %hb = index_select(c, %hf, dim=0)\n'
     '    %hb4 = reshape(%hb, shape=[1, 2, 1, 1])\n    %rel = sub(qi, ki)\n    %relf = cast(%rel, dtype={T})\n'
     '    %t = mul(s, %hb4)\n    %s2 = add(%t, %relf)\n    return %s2\n  }',
     lambda q, k, v, hb: attention_ref(q, k, v, causal=True, score_fn=lambda s: s * hb.view(1, 2, 1, 1) + (
         torch.arange(4).view(1, 1, 4, 1) - torch.arange(5).view(1, 1, 1, 5)).double()))



# Graphs `graphc grad` must refuse: exit 1 and one line on stderr matching the pattern.
REJECT = [
    ('non-scalar-loss', 'graph t(x: f32[3] param) {\n  %e = exp(x)\n  return %e\n}\n',
     r'output 0 .* must be a 0-d float loss'),
    ('int-param', 'graph t(x: i64[3] param) {\n  %s = sum(x)\n  %f = cast(%s, dtype=f32)\n  return %f\n}\n',
     r"param 'x' has dtype i64"),
    ('data-dependent-in-checkpoint',
     'graph t(x: f32[3] param) {\n  %y = checkpoint(x) region(a: f32[3]) {\n    %b = gt(a, a)\n'
     '    %k = sum(%b)\n    %n = item(%k)\n'
     '    %c = cast(%n, dtype=f32)\n    %m = mul(a, %c)\n    return %m\n  }\n  %l = sum(%y)\n  return %l\n}\n',
     r"t.gc:5:\d+: gradient: op 'item' .*not supported"),
]


def run_reject(name, text, pattern):
    tmp = tempfile.mkdtemp(prefix='gcgrad_')
    try:
        path = os.path.join(tmp, 't.gc')
        with open(path, 'w') as f:
            f.write(text)
        np.save(os.path.join(tmp, 'x.npy'), np.ones(3, np.float32))
        p = subprocess.run([GRAPHC, 'grad', path, '--out', os.path.join(tmp, 'out'), '--in',
                            'x=' + os.path.join(tmp, 'x.npy')], capture_output=True, text=True, timeout=60)
        lines = p.stderr.strip().splitlines()
        if p.returncode != 1 or len(lines) != 1 or not re.search(pattern, lines[0]):
            return ['exit %d, stderr %r (want exit 1 and one line matching %r)' % (p.returncode, p.stderr, pattern)]
        return []
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('-k', action='append', default=[])
    ap.add_argument('-j', type=int, default=2)
    ap.add_argument('-v', action='store_true')
    ap.add_argument('--keep', action='store_true')
    a = ap.parse_args()
    seed = int(os.environ.get('GRAPHC_TEST_SEED') or np.random.SeedSequence().entropy % (1 << 32))
    print('GRAPHC_TEST_SEED=%d (graphc: %s)' % (seed, GRAPHC))
    torch.set_num_threads(1)
    jobs = [(c, dt) for c in CASES for dt in c.dtypes if not a.k or any(s in c.name for s in a.k)]
    passed = failed = 0
    worst = {'f64': 0.0, 'f32': 0.0}
    with concurrent.futures.ThreadPoolExecutor(a.j) as ex:
        futs = [(c, dt, ex.submit(run_case, c, dt, seed, a.keep)) for c, dt in jobs]
        for c, dt, f in futs:
            try:
                errs, w = f.result()
            except Exception as e:  # a harness bug must not hide the others
                errs, w = ['%s: %s' % (type(e).__name__, e)], 0.0
            worst[dt] = max(worst[dt], w)
            if errs:
                failed += 1
                print('FAIL %s/%s' % (c.name, dt))
                for e in errs:
                    print('   ', e)
            else:
                passed += 1
                if a.v:
                    print('ok   %s/%s  (worst %.2g)' % (c.name, dt, w))
    for name, text, pattern in REJECT:
        if a.k and not any(s in 'reject/' + name for s in a.k):
            continue
        errs = run_reject(name, text, pattern)
        if errs:
            failed += 1
            print('FAIL reject/%s' % name)
            for e in errs:
                print('   ', e)
        else:
            passed += 1
    for dt, w in worst.items():
        print('worst relative error %s: %.3g (tolerance %g)' % (dt, w, TOL[dt]))
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
