#!/usr/bin/python3
"""Every libgraphc op, run through `graphc run` (the reference interpreter),
checked against PyTorch 1.13 on fresh random inputs.

Run with the Debian interpreter, which is the one that sees torch and numpy:

    /usr/bin/python3 integration/torch/test_ops_vs_torch.py [-k SUBSTRING]... [-j N] [-v] [--list]
        [--backend interp|cpu|cpu-eval]

-k runs the cases whose name contains SUBSTRING (names look like
`add[promote]/i32,f16/3x4,4`, `reject/unknown-op`); -j N runs N at once
(default 2); -v prints every case with its errors. --backend runs every case
through `graphc run --backend NAME` (the compiled CPU backend, or its kernel-IR
evaluator); a case whose op that backend documents as unsupported (nonzero,
item, attention with a score function, collectives) is SKIPPED, and only when
graphc's error says UNIMPLEMENTED / not supported for that op.

Environment:
    GRAPHC_BIN        the graphc binary (default /work/main/build/tools/graphc)
    GRAPHC_TEST_SEED  the master seed; a fresh one is drawn (and printed) when unset
    GRAPHC_TEST_KEEP  set to keep the temp dir of every failing case

Each case is one small graph (usually one node) written as .gc text with its
inputs as .npy files; graphc runs it and writes DIR/<output>.npy, which is
compared with PyTorch for shape, dtype and values (NaN positions must match,
infinities must match exactly). Every case draws its inputs from its own
generator seeded by (master seed, crc32(case name)), so a failure reproduces
with the printed seed, also under -k and -j.

The oracle. For float results the reference runs the torch op on the *same*
inputs upcast to float64 and casts the result to the expected dtype: the
interpreter computes float math in double and rounds once on store, so this
is the fairer oracle (torch's own f16/bf16/f32 kernels accumulate in lower
precision, and many f16 kernels do not exist on CPU in 1.13). The expected
dtype and shape come from the torch op on the native-dtype inputs (PyTorch's
type promotion is the spec); where 1.13 has no CPU kernel for that dtype, the
expected float dtype is the promotion of the float inputs (or a per-case
override). Integer and bool results come from the native torch run and must
match exactly. Elementwise ops that promote (binary, where, mse_loss, cat)
first round float inputs to the result dtype, as PyTorch casts operands to
the common dtype before its kernel runs (f16[3] + f64[] adds the f64 value
rounded to f16). Multi-op graphs (regions) round their intermediates in the
reference as the interpreter does.

Besides the fixed table, a seeded fuzz section draws broadcast shapes,
reduction dims, matmul ranks and conv/pool geometry from the master seed,
and the negative cases check that bad graphs, bad inputs and run-time index
errors exit 1 with one line on stderr (never a crash: exit < 128).

At the end: per-dtype worst error, ops covered (against docs/ops.md), the
number of cases, and a last line "N passed, N failed[, N skipped]". Cases
marked xfail (known libgraphc disagreements, with a reason) still count as
failures until they are fixed; a passing xfail says so, so the marker can go.
"""

import argparse
import concurrent.futures
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
import zlib

import numpy as np
import torch
import torch.nn.functional as F

# --------------------------------------------------------------------------
# Tolerances, per result dtype: a float element passes when
#     |got - want| <= atol + rtol * |want|.
# The oracle is float64 torch rounded once to the result dtype, and the
# interpreter also rounds once from double, so most elements agree exactly
# and the rest by about one ulp of the result dtype (two for multi-op graphs
# whose intermediates the interpreter rounds): f16 ulp is 2^-10 ~ 9.8e-4,
# bf16 2^-7 ~ 7.8e-3, f32 2^-23 ~ 1.2e-7. The f64 bound covers different
# summation orders (torch's blocked kernels vs the interpreter's loops).
# Integers and bool must match exactly.
# The compiled CPU backend is held to the same table: its f32 elementwise math
# rounds once like the interpreter's, layer_norm and conv (and its gradients)
# accumulate in f64; what differs is f32 sums (sum/mean, sgemm for matmul) in
# f32 order, which stay within 1e-5 relative on these sizes.
# --------------------------------------------------------------------------
TOL = {
    'f64': (1e-12, 1e-12),
    'f32': (1e-5, 1e-6),
    'f16': (1e-3, 1e-5),
    'bf16': (1e-2, 1e-4),
    'i32': (0, 0),
    'i64': (0, 0),
    'bool': (0, 0),
}

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
GRAPHC = os.environ.get('GRAPHC_BIN', '/work/main/build/tools/graphc')
# `graphc run --backend X` for every case (main sets it from --backend);
# 'interp' is the reference interpreter, graphc's own default.
OPTS = {'backend': 'interp'}
# Ops a compiled backend documents as not supported (docs/kernel-ir.md):
# a case using one is SKIPPED, only when graphc says UNIMPLEMENTED / not
# supported and names the op -- any other error still fails.
UNSUPPORTED_COMPILED = ('nonzero', 'item', 'scaled_dot_product_attention', 'all_reduce',
                        'all_gather', 'reduce_scatter', 'broadcast', 'all_reduce_start',
                        'all_gather_start', 'reduce_scatter_start', 'broadcast_start', 'wait')
OPS_MD = os.path.join(ROOT, 'docs', 'ops.md')

TORCH_DT = {'f32': torch.float32, 'f64': torch.float64, 'f16': torch.float16,
            'bf16': torch.bfloat16, 'i32': torch.int32, 'i64': torch.int64, 'bool': torch.bool}
DT_NAME = {v: k for k, v in TORCH_DT.items()}
# What `graphc run` writes for each result dtype (bf16 is written as <f4).
FILE_DT = {'f32': np.dtype('<f4'), 'f64': np.dtype('<f8'), 'f16': np.dtype('<f2'),
           'bf16': np.dtype('<f4'), 'i32': np.dtype('<i4'), 'i64': np.dtype('<i8'),
           'bool': np.dtype('|b1')}
FLOATS = ('f32', 'f64', 'f16', 'bf16')
INF = float('inf')


class Skip(Exception):
    pass


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------

class I:
    """A graph input: name, dtype, shape and how to draw its values.

    gen for floats: 'normal' (N(0, 1.5^2)), 'pos' (U[0.1, 4)), 'unit'
    (U[-1, 1)), 'wide' (U[-100, 100)), 'special' (normal with NaN and +-inf
    sprinkled in), or a callable (rng, shape) -> float64 array. Exact zeros
    are replaced, so no input is ever zero by accident. For integers a
    ('int', lo, hi) range [lo, hi) (default [-5, 6)); 'pos' means [1, 6),
    'wide' [-100, 100). bool: fair coin, or a callable."""

    def __init__(self, name, dtype, shape, gen='normal'):
        self.name, self.dtype, self.shape, self.gen = name, dtype, tuple(shape), gen

    def decl(self):
        return '%s: %s[%s] input' % (self.name, self.dtype, ', '.join(map(str, self.shape)))

    def make(self, rng):
        shape, g, dt = self.shape, self.gen, self.dtype
        if callable(g):
            v = np.asarray(g(rng, shape))
        elif dt == 'bool':
            v = rng.random(shape) < 0.5
        elif dt in ('i32', 'i64'):
            lo, hi = {'pos': (1, 6), 'wide': (-100, 100), 'normal': (-5, 6),
                      'unit': (-1, 2)}.get(g, None) or (g[1], g[2])
            v = rng.integers(lo, hi, size=shape)
        else:
            if g == 'normal' or g == 'special':
                v = rng.standard_normal(shape) * 1.5
            elif g == 'pos':
                v = rng.uniform(0.1, 4.0, shape)
            elif g == 'unit':
                v = rng.uniform(-1.0, 1.0, shape)
            elif g == 'wide':
                v = rng.uniform(-100.0, 100.0, shape)
            else:
                raise ValueError('unknown generator %r' % (g,))
            v = np.where(v == 0, 0.5, v)
            if g == 'special' and v.size:
                flat = v.reshape(-1)
                for s in (np.nan, INF, -INF):
                    flat[rng.integers(0, flat.size)] = s
        v = np.asarray(v).reshape(shape)
        if dt == 'bf16':
            return torch.from_numpy(np.array(v, dtype=np.float32, order='C')).to(torch.bfloat16)
        npdt = {'f32': np.float32, 'f64': np.float64, 'f16': np.float16, 'i32': np.int32,
                'i64': np.int64, 'bool': np.bool_}[dt]
        return torch.from_numpy(np.array(v, dtype=npdt, order='C'))  # keeps 0-d arrays 0-d


def write_npy(path, t):
    """bf16 goes as <f4 holding bf16-exact values (graphc rounds <f4 to bf16)."""
    a = t.float().numpy() if t.dtype == torch.bfloat16 else t.numpy()
    np.save(path, a.copy(order='C'))  # (np.ascontiguousarray would make 0-d arrays 1-d)


# --------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------

class Case:
    def __init__(self, name, ops, body, inputs, ref=None, outs=('r',), out_dtypes=None,
                 check=None, xfail=None, skip=None, error=None, tol_scale=1.0, args=(), promote=False):
        self.name = name
        self.ops = [ops] if isinstance(ops, str) else list(ops)
        self.body = body            # graph body text (nodes), without 'return'
        self.inputs = inputs        # list of I
        self.ref = ref              # torch reference: f(*tensors) -> tensor or tuple
        self.outs = outs            # returned result names
        self.out_dtypes = out_dtypes  # optional expected dtypes (strings), per output
        self.check = check          # optional custom checker(got, tensors) -> [errors]
        self.xfail = xfail          # reason: a known libgraphc disagreement
        self.skip = skip            # reason
        self.error = error          # negative case: regex the one-line stderr must match
        self.tol_scale = tol_scale  # for multi-op graphs with rounded intermediates
        self.args = args            # extra graphc arguments (negative cases)
        # Elementwise promoting ops: PyTorch first casts every operand to the
        # common dtype, so the float64 oracle rounds float inputs to the
        # (float) result dtype first (f16 + 0-d f64 adds the f64 rounded to f16).
        self.promote = promote

    def text(self):
        ins = ', '.join(i.decl() for i in self.inputs)
        ret = ', '.join('%' + o for o in self.outs)
        return 'graph t(%s) {\n%s\n  return %s\n}\n' % (ins, self.body.rstrip('\n'), ret)


CASES = []
_names = {}


def add_case(c):
    n = _names.get(c.name, 0)
    _names[c.name] = n + 1
    if n:
        c.name = '%s#%d' % (c.name, n + 1)
    CASES.append(c)
    return c


def fmt_attr(v):
    if isinstance(v, bool):
        return 'true' if v else 'false'
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return 'nan'
        if math.isinf(v):
            return 'inf' if v > 0 else '-inf'
        return repr(v)
    if isinstance(v, (list, tuple)):
        return '[' + ', '.join(fmt_attr(x) for x in v) + ']'
    return str(v)  # identifiers, dtypes, dim expressions


def node(op, operands, attrs=None, res=('r',)):
    parts = list(operands) + ['%s=%s' % (k, fmt_attr(v)) for k, v in (attrs or {}).items()]
    return '  %s = %s(%s)' % (', '.join('%' + r for r in res), op, ', '.join(parts))


def shp(s):
    return 'x'.join(map(str, s)) if len(s) else 'scalar'


def simple(op, inputs, ref, attrs=None, tag='', res=('r',), **kw):
    """One node `%r = op(inputs..., attrs)`; name op[tag]/dtypes/shapes."""
    dts = ','.join(i.dtype for i in inputs)
    shapes = ','.join(shp(i.shape) for i in inputs)
    name = '%s%s/%s/%s' % (op, '[%s]' % tag if tag else '', dts, shapes)
    body = node(op, [i.name for i in inputs], attrs, res)
    kw.setdefault('promote', op in PROMOTING)
    return add_case(Case(name, op, body, inputs, ref, outs=res, **kw))


PROMOTING = {'add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge',
             'where', 'mse_loss', 'cat'}


def neg_case(name, text_body, inputs, pattern, args=(), npy=None):
    """A graph graphc must reject: exit 1, one line on stderr matching pattern."""
    c = Case('reject/' + name, [], text_body, inputs, error=pattern, args=args)
    c.npy_override = npy or {}
    return add_case(c)


# ---- elementwise -----------------------------------------------------------

UNARY_FLOAT = {
    'exp': torch.exp, 'log': torch.log, 'sqrt': torch.sqrt, 'rsqrt': torch.rsqrt,
    'tanh': torch.tanh, 'sigmoid': torch.sigmoid, 'silu': F.silu, 'erf': torch.erf,
    'sin': torch.sin, 'cos': torch.cos, 'gelu': F.gelu,
}
UNARY_ANY = {'neg': torch.neg, 'abs': torch.abs, 'relu': torch.relu}
UNARY_DOMAIN = {'log': 'pos', 'sqrt': 'pos', 'rsqrt': 'pos'}
UNARY_SHAPES = [(), (1,), (7,), (3, 4), (2, 1, 5), (17,), (0, 3)]


def torch_float_of_int(fn):
    """PyTorch computes float-only ops on int/bool inputs in the default dtype."""
    return lambda x: fn(x if x.is_floating_point() else x.to(torch.float32))


def add_unary_cases():
    for op, fn in list(UNARY_FLOAT.items()) + list(UNARY_ANY.items()):
        dom = UNARY_DOMAIN.get(op, 'normal')
        ref = torch_float_of_int(fn) if op in UNARY_FLOAT else fn
        for s in UNARY_SHAPES:
            simple(op, [I('x', 'f32', s, dom)], ref)
        for dt, shapes in (('f64', [(3, 4), (17,), ()]), ('f16', [(3, 4), (7,)]),
                           ('bf16', [(3, 4), (2, 1, 5)])):
            for s in shapes:
                simple(op, [I('x', dt, s, dom)], ref)
        if op in ('gelu', 'silu'):
            # PyTorch has no integer kernels for these ("silu_cpu" not implemented for 'Long')
            for dt in ('i32', 'i64', 'bool'):
                neg_case('%s-%s' % (op, dt), node(op, ['x']), [I('x', dt, (3,))], r'float')
        elif op in UNARY_FLOAT:
            simple(op, [I('x', 'i32', (3, 4), 'pos' if dom == 'pos' else 'normal')], ref)
            simple(op, [I('x', 'i64', (5,), 'pos' if dom == 'pos' else 'normal')], ref)
            simple(op, [I('x', 'bool', (2, 3))], ref)
        else:
            simple(op, [I('x', 'i32', (3, 4))], ref)
            simple(op, [I('x', 'i64', (17,))], ref)
    # gelu's tanh approximation
    for dt, s in (('f32', (3, 4)), ('f64', (17,)), ('f16', (7,)), ('bf16', (2, 5)), ('f32', (0,))):
        simple('gelu', [I('x', dt, s)], lambda x: F.gelu(x, approximate='tanh'),
               {'approximate': 'tanh'}, tag='tanh')
    simple('gelu', [I('x', 'f32', (3, 4))], F.gelu, {'approximate': 'none'}, tag='none')
    # NaN / inf handling and out-of-domain inputs (NaN positions must match)
    for op in list(UNARY_ANY) + list(UNARY_FLOAT):
        simple(op, [I('x', 'f32', (4, 5), 'special')], UNARY_ANY.get(op) or UNARY_FLOAT[op],
               tag='special')
    simple('gelu', [I('x', 'f64', (4, 5), 'special')], lambda x: F.gelu(x, approximate='tanh'),
           {'approximate': 'tanh'}, tag='tanh,special')
    edge = lambda r, s: np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -1e-40, 1e30, -1e30, 88.7])
    for op in list(UNARY_ANY) + list(UNARY_FLOAT):
        simple(op, [I('x', 'f64', (10,), edge)], UNARY_ANY.get(op) or UNARY_FLOAT[op], tag='edge')
    for op in ('log', 'sqrt', 'rsqrt'):
        simple(op, [I('x', 'f64', (4, 5), 'normal')], UNARY_FLOAT[op], tag='neg-domain')
    # integer wrap-around: -INT_MIN
    simple('neg', [I('x', 'i32', (3,), lambda r, s: np.array([-2**31, 2**31 - 1, 7]))],
           torch.neg, tag='int-min')
    simple('abs', [I('x', 'i64', (3,), lambda r, s: np.array([-2**63, 2**63 - 1, -7]))],
           torch.abs, tag='int-min')


BINARY = {
    'add': torch.add, 'sub': torch.sub, 'mul': torch.mul, 'div': torch.div,
    'pow': torch.pow, 'maximum': torch.maximum, 'minimum': torch.minimum,
    'eq': torch.eq, 'ne': torch.ne, 'lt': torch.lt, 'le': torch.le, 'gt': torch.gt, 'ge': torch.ge,
}
BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 5), (3, 1)), ((1,), (7,)),
                 ((), (3, 4)), ((0, 3), (1, 3)), ((4, 1), (1, 17)), ((2, 3, 1, 1), (1, 1, 4, 5))]


def pow_gens(dt):
    """pow without NaN traps: positive bases, moderate exponents."""
    if dt in ('i32', 'i64'):
        return ('int', -3, 4), ('int', 0, 5)
    return 'pos', (lambda r, s: r.uniform(-2.0, 2.0, s))


def add_binary_cases():
    for op, fn in BINARY.items():
        ga, gb = pow_gens('f32') if op == 'pow' else ('normal', 'normal')
        for sa, sb in BINARY_SHAPES:
            simple(op, [I('a', 'f32', sa, ga), I('b', 'f32', sb, gb)], fn)
        for dt, (sa, sb) in (('f64', ((3, 4), (4,))), ('f64', ((17,), ())), ('f16', ((3, 4), (3, 1))),
                             ('bf16', ((2, 1, 5), (3, 1))), ('i32', ((3, 4), (4,))),
                             ('i64', ((2, 1, 5), (3, 1))), ('bool', ((3, 4), (3, 4)))):
            if dt == 'bool' and op in ('sub', 'pow'):
                continue  # rejected (as in PyTorch); see the negative cases
            ga, gb = pow_gens(dt) if op == 'pow' else ('normal', 'normal')
            simple(op, [I('a', dt, sa, ga), I('b', dt, sb, gb)], fn)
        # type promotion: mixed dtypes, 0-d operands
        promos = [('i32', 'f16'), ('f16', 'bf16'), ('f32', 'f64'), ('i32', 'i64'),
                  ('bool', 'i32'), ('bool', 'f32'), ('i64', 'bf16')]
        for da, db in promos:
            if op == 'sub' and 'bool' in (da, db):
                continue
            ga, gb = ('pos', ('int', 0, 4) if db in ('i32', 'i64') else 'unit') if op == 'pow' \
                else ('normal', 'normal')
            if op == 'pow' and da in ('i32', 'i64', 'bool'):
                ga = 'pos'
            if op == 'pow' and (da == 'bool' or db == 'bool'):
                continue
            simple(op, [I('a', da, (3, 4), ga), I('b', db, (4,), gb)], fn, tag='promote')
        for da, db in (('f16', 'f64'), ('i32', 'i64'), ('i32', 'f64'), ('f32', 'i64')):
            ga, gb = ('pos', ('int', 0, 3)) if op == 'pow' else ('normal', 'normal')
            if op == 'pow' and db == 'f64':
                gb = 'unit'
            simple(op, [I('a', da, (2, 3), ga), I('b', db, (), gb)], fn, tag='0d')
    # equal values must compare equal: b copies some of a
    for op in ('eq', 'ne', 'le', 'ge'):
        simple(op, [I('a', 'i64', (5, 6), ('int', 0, 3)), I('b', 'i64', (6,), ('int', 0, 3))],
               BINARY[op], tag='ties')
        simple(op, [I('a', 'f16', (5, 6), lambda r, s: r.integers(0, 3, s) * 0.25),
                    I('b', 'f32', (6,), lambda r, s: r.integers(0, 3, s) * 0.25)], BINARY[op],
               tag='ties')
    # NaN propagation in maximum/minimum, NaN compares
    for op in ('maximum', 'minimum', 'add', 'mul', 'eq', 'ne', 'lt', 'ge'):
        simple(op, [I('a', 'f32', (4, 5), 'special'), I('b', 'f32', (4, 5), 'special')],
               BINARY[op], tag='special')
    # division by zero: b holds zeros on purpose here
    simple('div', [I('a', 'f32', (6,), 'special'),
                   I('b', 'f32', (6,), lambda r, s: np.array([0.0, -0.0, 0.0, 1.0, 2.0, -0.0]))],
           torch.div, tag='by-zero')
    simple('div', [I('a', 'i32', (5,)), I('b', 'i32', (5,), ('int', 1, 4))], torch.div, tag='int')
    # pow: integer powers of negative bases, float base with integral exponents
    simple('pow', [I('a', 'f64', (3, 4), 'normal'),
                   I('b', 'f64', (4,), lambda r, s: r.integers(-3, 4, s).astype(float))],
           torch.pow, tag='neg-base')
    simple('pow', [I('a', 'f32', (6,), 'normal'),
                   I('b', 'f32', (6,), lambda r, s: np.array([0.5, 1.5, 0.5, 2.0, -0.5, 3.0]))],
           torch.pow, tag='nan-trap')
    pa = [0.0, -0.0, 0.0, np.inf, -np.inf, -np.inf, np.nan, 1.0, -1.0, -1.0, 2.0, 0.5, -8.0]
    pb = [-1.0, -3.0, 0.0, -0.5, 3.0, 2.0, 0.0, np.nan, np.inf, -np.inf, np.inf, -np.inf, 1 / 3]
    simple('pow', [I('a', 'f64', (13,), lambda r, s: np.array(pa)), I('b', 'f64', (13,), lambda r, s: np.array(pb))],
           torch.pow, tag='ieee-edge')
    simple('pow', [I('a', 'i64', (8,), ('int', -3, 4)),
                   I('b', 'i64', (8,), lambda r, s: np.array([-2, -1, 0, 1, 2, 3, -3, 5]))],
           torch.pow, tag='neg-exp')
    # integer wrap-around
    big = lambda r, s: r.integers(2**30, 2**31, s)
    simple('add', [I('a', 'i32', (6,), big), I('b', 'i32', (6,), big)], torch.add, tag='wrap')
    simple('mul', [I('a', 'i32', (6,), big), I('b', 'i32', (6,), big)], torch.mul, tag='wrap')
    simple('mul', [I('a', 'i64', (6,), lambda r, s: r.integers(2**40, 2**50, s)),
                   I('b', 'i64', (6,), lambda r, s: r.integers(2**40, 2**50, s))], torch.mul,
           tag='wrap')


def add_where_cast_cases():
    for sc, sa, sb, da, db in [((3, 4), (3, 4), (3, 4), 'f32', 'f32'), ((3, 1), (1, 4), (3, 4), 'f32', 'f32'),
                               ((4,), (3, 1), (), 'f64', 'f64'), ((2, 1, 5), (3, 1), (5,), 'f16', 'f16'),
                               ((3, 4), (3, 4), (4,), 'bf16', 'bf16'), ((3, 4), (4,), (3, 4), 'i32', 'i64'),
                               ((5,), (5,), (5,), 'bool', 'bool'), ((3, 4), (3, 4), (4,), 'i32', 'f16'),
                               ((3, 4), (4,), (3, 1), 'f16', 'bf16'), ((3, 4), (3, 4), (), 'f32', 'f64'),
                               ((0, 4), (1, 4), (4,), 'f32', 'f32'), ((), (), (), 'i64', 'i64'),
                               ((7,), (1,), (7,), 'bool', 'i32')]:
        simple('where', [I('c', 'bool', sc), I('a', da, sa), I('b', db, sb)], torch.where)
    dts = ['f32', 'f64', 'f16', 'bf16', 'i32', 'i64', 'bool']
    for src in dts:
        for dst in dts:
            gen = 'wide' if src in FLOATS and dst in ('i32', 'i64') else 'normal'
            simple('cast', [I('x', src, (3, 5), gen)], (lambda d: lambda x: x.to(TORCH_DT[d]))(dst),
                   {'dtype': dst}, tag=dst)
    # float -> bool: exactly zero, -0.0, NaN
    simple('cast', [I('x', 'f32', (5,), lambda r, s: np.array([0.0, -0.0, np.nan, 1e-30, -2.0]))],
           lambda x: x.to(torch.bool), {'dtype': 'bool'}, tag='bool-special')
    # rounding to narrower floats (ties, overflow to inf)
    simple('cast', [I('x', 'f32', (6,), lambda r, s: np.array([65504.0, 65520.0, 1e6, -1e6, 1 + 2**-11,
                                                               3e-8]))],
           lambda x: x.to(torch.float16), {'dtype': 'f16'}, tag='f16-edge')
    # f64 -> f16/bf16 rounds through f32 in PyTorch (a double rounding): 1 + 2^-8 + 2^-30 gives bf16 1.0
    dr = lambda r, s: np.array([1 + 2**-8 + 2**-30, 1 + 2**-11 + 2**-30, -(1 + 2**-8 + 2**-30), 3e-41])
    simple('cast', [I('x', 'f64', (4,), dr)], lambda x: x.to(torch.bfloat16), {'dtype': 'bf16'}, tag='double-round')
    simple('cast', [I('x', 'f64', (4,), dr)], lambda x: x.to(torch.float16), {'dtype': 'f16'}, tag='double-round')
    simple('exp', [I('x', 'f16', (3, 5), lambda r, s: r.uniform(-20, 20, s))], torch.exp, tag='overflow')
    simple('exp', [I('x', 'bf16', (3, 5), lambda r, s: r.uniform(-100, 100, s))], torch.exp, tag='overflow')
    simple('cast', [I('x', 'f64', (4, 3), 'wide')], lambda x: x.to(torch.float32), {'dtype': 'f32'},
           tag='wide')
    simple('cast', [I('x', 'f32', (0, 2))], lambda x: x.to(torch.int64), {'dtype': 'i64'}, tag='empty')


# ---- reductions and normalisation --------------------------------------------

def dims_of(x, dim):
    return tuple(range(x.dim())) if not dim else tuple(dim)


def add_reduce_cases():
    def sum_ref(dim, keep):
        return lambda x: torch.sum(x, dim=dims_of(x, dim), keepdim=keep) if x.dim() else \
            torch.sum(x)

    def mean_ref(dim, keep):
        return lambda x: torch.mean(x, dim=dims_of(x, dim), keepdim=keep) if x.dim() else x.clone()

    def amax_ref(dim, keep, fn):
        return lambda x: fn(x, dim=dims_of(x, dim), keepdim=keep)

    configs = [((3, 4, 5), None, False), ((3, 4, 5), [1], False), ((3, 4, 5), [0, 2], True),
               ((3, 4, 5), [-1], True), ((7,), [0], False), ((17, 3), [], False),
               ((2, 1, 3), [1], False), ((1, 1), None, True), ((), None, False), ((), [0], True)]
    for shape, dim, keep in configs:
        attrs = {}
        if dim is not None:
            attrs['dim'] = dim
        attrs['keepdim'] = keep
        for dt in ('f32', 'f64'):
            simple('sum', [I('x', dt, shape)], sum_ref(dim, keep), attrs)
            simple('mean', [I('x', dt, shape)], mean_ref(dim, keep), attrs)
            simple('amax', [I('x', dt, shape)], amax_ref(dim, keep, torch.amax), attrs)
            simple('amin', [I('x', dt, shape)], amax_ref(dim, keep, torch.amin), attrs)
    for dt in ('f16', 'bf16', 'i32', 'i64', 'bool'):
        for shape, dim, keep in ((3, 4, 5), [1], False), ((17, 3), None, True):
            attrs = {'keepdim': keep} if dim is None else {'dim': dim, 'keepdim': keep}
            simple('sum', [I('x', dt, shape)], sum_ref(dim, keep), attrs)
            simple('amax', [I('x', dt, shape)], amax_ref(dim, keep, torch.amax), attrs)
            simple('amin', [I('x', dt, shape)], amax_ref(dim, keep, torch.amin), attrs)
            if dt in FLOATS:
                simple('mean', [I('x', dt, shape)], mean_ref(dim, keep), attrs)
    simple('sum', [I('x', 'i32', (6,), lambda r, s: r.integers(2**30, 2**31, s))], sum_ref(None, False),
           tag='i32-to-i64')
    # large sums: accumulation precision (the oracle is f64)
    simple('sum', [I('x', 'f16', (1000,), 'pos')], sum_ref(None, False), tag='long')
    simple('sum', [I('x', 'bf16', (513,), 'pos')], sum_ref(None, False), tag='long')
    simple('mean', [I('x', 'f32', (4, 999))], mean_ref([1], False), {'dim': [1]}, tag='long')
    # empty reductions: sum is 0, mean is nan
    for shape, dim in (((0, 3), [0]), ((0, 3), [1]), ((0,), None), ((2, 0, 3), [1])):
        attrs = {} if dim is None else {'dim': dim}
        simple('sum', [I('x', 'f32', shape)], sum_ref(dim, False), attrs, tag='empty')
        simple('sum', [I('x', 'i32', shape)], sum_ref(dim, False), attrs, tag='empty')
        simple('mean', [I('x', 'f32', shape)], mean_ref(dim, False), attrs, tag='empty')
    # amax over a non-empty dim of a tensor with an empty other dim
    simple('amax', [I('x', 'f32', (0, 3))], amax_ref([1], False, torch.amax), {'dim': [1]},
           tag='empty')
    # NaN propagation
    for op, fn in (('amax', torch.amax), ('amin', torch.amin)):
        simple(op, [I('x', 'f32', (4, 6), 'special')], amax_ref([1], False, fn), {'dim': [1]},
               tag='special')
    simple('sum', [I('x', 'f64', (4, 6), 'special')], sum_ref([0], False), {'dim': [0]}, tag='special')

    # argmax: dim (int) or flattened; ties go to the first maximum
    for shape, dim, keep, dt, gen in [((3, 4, 5), 1, False, 'f32', 'normal'), ((3, 4, 5), -1, True, 'f64', 'normal'),
                                      ((3, 4, 5), None, False, 'f32', 'normal'), ((3, 4), None, True, 'f32', 'normal'),
                                      ((7,), 0, False, 'f16', 'normal'), ((2, 9), 1, False, 'bf16', 'normal'),
                                      ((5, 6), 0, False, 'i32', ('int', 0, 3)), ((5, 6), 1, True, 'i64', ('int', 0, 2)),
                                      ((17,), None, False, 'i64', ('int', 0, 2)), ((1, 1), 0, False, 'f32', 'normal'),
                                      ((), None, False, 'f32', 'normal'), ((0, 3), 1, False, 'f32', 'normal'),
                                      ((4, 6), 1, False, 'f32', 'special')]:
        attrs = {} if dim is None else {'dim': dim}
        attrs['keepdim'] = keep
        ref = (lambda d, k: lambda x: torch.argmax(x, dim=d, keepdim=k))(dim, keep)
        simple('argmax', [I('x', dt, shape, gen or 'normal')], ref, attrs)
    # "argmax_cpu" not implemented for 'Bool' in PyTorch either
    neg_case('argmax-bool', node('argmax', ['x'], {'dim': 0}), [I('x', 'bool', (6, 4))], r'numeric|bool')

    # softmax / log_softmax
    for op, fn in (('softmax', F.softmax), ('log_softmax', F.log_softmax)):
        for shape, dim, dt in [((3, 4), -1, 'f32'), ((3, 4), 0, 'f32'), ((2, 3, 5), 1, 'f32'), ((7,), 0, 'f32'),
                               ((1, 1), 1, 'f32'), ((0, 4), 1, 'f32'), ((3, 4), -1, 'f64'), ((2, 17), 1, 'f64'),
                               ((3, 4), -1, 'f16'), ((2, 3, 5), 0, 'f16'), ((3, 4), 1, 'bf16'), ((4, 1), 1, 'f32'),
                               ((3, 5), 1, 'wide-f32'), ((4, 6), 1, 'special-f32')]:
            gen = 'normal'
            if dt.startswith('wide-'):
                gen, dt = 'wide', dt[5:]
            if dt.startswith('special-'):
                gen, dt = 'special', dt[8:]
            simple(op, [I('x', dt, shape, gen)], (lambda f, d: lambda x: f(x, dim=d))(fn, dim), {'dim': dim},
                   tag='' if gen == 'normal' else gen)

    neg_inf_rows = lambda r, s: np.where(np.arange(s[0])[:, None] == 0, -np.inf,
                                         np.where(r.random(s) < 0.4, -np.inf, r.standard_normal(s)))
    for op, fn in (('softmax', F.softmax), ('log_softmax', F.log_softmax)):
        simple(op, [I('x', 'f32', (4, 6), neg_inf_rows)], (lambda f: lambda x: f(x, dim=1))(fn), {'dim': 1},
               tag='-inf')
        simple(op, [I('x', 'f64', (3, 5), lambda r, s: np.where(r.random(s) < 0.3, np.inf, r.standard_normal(s)))],
               (lambda f: lambda x: f(x, dim=0))(fn), {'dim': 0}, tag='+inf')

    # layer_norm
    def ln_ref(ns, eps):
        return lambda x, *wb: F.layer_norm(x, ns, *wb, eps=eps)

    for xs, ns, dt, wb, eps in [((3, 8), [8], 'f32', 2, None), ((2, 3, 4), [3, 4], 'f32', 2, None),
                                ((2, 3, 4), [4], 'f32', 0, None), ((5, 7), [7], 'f64', 2, 1e-3),
                                ((5, 7), [7], 'f64', 1, None), ((17,), [17], 'f32', 0, 0.5),
                                ((4, 16), [16], 'f16', 2, None), ((4, 16), [16], 'bf16', 2, None),
                                ((0, 5), [5], 'f32', 2, None), ((3, 1), [1], 'f32', 2, None),
                                ((2, 2, 3, 5), [2, 3, 5], 'f32', 2, 1e-6)]:
        ins = [I('x', dt, xs)] + [I(n, dt, ns) for n in ('w', 'b')[:wb]]
        attrs = {'normalized_shape': ns}
        if eps is not None:
            attrs['eps'] = eps
        simple('layer_norm', ins, ln_ref(ns, 1e-5 if eps is None else eps), attrs,
               out_dtypes=[dt])
    simple('layer_norm', [I('x', 'f32', (3, 6), lambda r, s: np.repeat(r.standard_normal((3, 1)), 6, 1))],
           ln_ref([6], 1e-5), {'normalized_shape': [6]}, tag='constant-rows')
    # mixed precision: f16/bf16 x with f32 weight and bias
    for dt in ('f16', 'bf16'):
        simple('layer_norm', [I('x', dt, (3, 8)), I('w', 'f32', (8,)), I('b', 'f32', (8,))],
               ln_ref([8], 1e-5), {'normalized_shape': [8]}, tag='mixed', out_dtypes=[dt])

    # cross_entropy
    def ce_ref(ii, ls):
        return lambda x, t: F.cross_entropy(x, t, ignore_index=ii, label_smoothing=ls)

    def targets(c, ignore=None, frac=0.3):
        def g(r, s):
            t = r.integers(0, c, s)
            if ignore is not None:
                m = r.random(s) < frac
                m[0] = False  # at least one row counts
                t = np.where(m, ignore, t)
            return t
        return g

    for n, c, dt, ii, ls, tgen in [(5, 7, 'f32', None, None, targets(7)), (5, 7, 'f64', None, None, targets(7)),
                                   (8, 3, 'f32', -100, None, targets(3, -100)), (8, 3, 'f64', 2, None, targets(3, 2, 0.4)),
                                   (6, 4, 'f32', None, 0.1, targets(4)), (6, 4, 'f64', None, 0.25, targets(4)),
                                   (9, 5, 'f64', -100, 0.2, targets(5, -100)), (9, 5, 'f32', 1, 0.3, targets(5, 1, 0.5)),
                                   (1, 1, 'f32', None, None, targets(1)), (1, 6, 'f64', None, 1.0, targets(6)),
                                   (4, 6, 'f16', None, None, targets(6)), (4, 6, 'bf16', None, 0.1, targets(6)),
                                   (17, 3, 'f32', None, None, targets(3)),
                                   (3, 4, 'f32', 0, None, lambda r, s: np.zeros(s, np.int64))]:  # all ignored: nan
        attrs = {}
        if ii is not None:
            attrs['ignore_index'] = ii
        if ls is not None:
            attrs['label_smoothing'] = ls
        tag = ('ii=%s' % ii if ii is not None else '') + ('ls=%s' % ls if ls is not None else '')
        simple('cross_entropy', [I('x', dt, (n, c)), I('t', 'i64', (n,), tgen)],
               ce_ref(-100 if ii is None else ii, 0.0 if ls is None else ls), attrs, tag=tag,
               out_dtypes=[dt])

    # mse_loss
    for sa, sb, da, db, red in [((3, 4), (3, 4), 'f32', 'f32', None), ((3, 4), (3, 4), 'f32', 'f32', 'sum'),
                                ((3, 4), (3, 4), 'f64', 'f64', 'none'), ((3, 4), (4,), 'f32', 'f32', 'mean'),
                                ((2, 1, 5), (3, 1), 'f64', 'f64', 'none'), ((7,), (7,), 'f16', 'f16', None),
                                ((5, 3), (5, 3), 'bf16', 'bf16', 'sum'), ((4,), (4,), 'f32', 'f64', None),
                                ((0, 3), (0, 3), 'f32', 'f32', 'sum'), ((0, 3), (0, 3), 'f32', 'f32', 'mean'),
                                ((0, 3), (1, 3), 'f32', 'f32', 'none'), ((), (), 'f64', 'f64', None),
                                ((17,), (17,), 'f32', 'f32', 'none')]:
        attrs = {} if red is None else {'reduction': red}

        def mse(a, b, red=red):
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                return F.mse_loss(a, b, reduction=red or 'mean')
        simple('mse_loss', [I('a', da, sa), I('b', db, sb)], mse, attrs, tag=red or '')


# ---- dropout ---------------------------------------------------------------

def dropout_mask(seed, n, p):
    """The keep mask docs/ops.md specifies (bit for bit in every backend):
    u = (splitmix64(seed ^ (0x9e3779b97f4a7c15 * i)) >> 11) * 2^-53 for flat
    index i, keep when u >= p."""
    with np.errstate(over='ignore'):
        u64 = np.uint64
        i = np.arange(n, dtype=np.uint64)
        z = u64(seed & (2**64 - 1)) ^ (u64(0x9e3779b97f4a7c15) * i)
        z = z + u64(0x9e3779b97f4a7c15)
        z = (z ^ (z >> u64(30))) * u64(0xbf58476d1ce4e5b9)
        z = (z ^ (z >> u64(27))) * u64(0x94d049bb133111eb)
        z = z ^ (z >> u64(31))
    return (z >> u64(11)).astype(np.float64) * 2.0**-53 >= p


def dropout_ref(p):
    """y = x * (keep ? round(1/(1-p)) : 0), the scale rounded to x's dtype
    first (PyTorch multiplies by a mask of x's dtype)."""
    def f(x, s):
        keep = torch.from_numpy(dropout_mask(int(s), x.numel(), p)).reshape(x.shape)
        return x * torch.where(keep, torch.tensor(1.0 / (1.0 - p)).to(x.dtype), torch.zeros((), dtype=x.dtype))
    return f


def dropout_check(p, dt):
    """Every output is 0 or x * round(1/(1-p)); the kept fraction is within
    6 sigma of 1-p (binomial)."""
    def check(got, ts):
        x = ts[0].double()
        y = torch.from_numpy(np.asarray(got[0]).astype(np.float64))
        errs = []
        if tuple(y.shape) != tuple(x.shape):
            return ['shape %s, expected %s' % (tuple(y.shape), tuple(x.shape))]
        scale = torch.tensor(1.0 / (1.0 - p), dtype=torch.float64).to(TORCH_DT[dt]).double()
        kept_val = (x * scale).to(TORCH_DT[dt]).double()
        kept = (y == kept_val) & (x != 0)
        dropped = y == 0
        bad = ~(kept | dropped)
        if bad.any():
            i = int(bad.reshape(-1).nonzero()[0])
            errs.append('%d elements are neither 0 nor x/(1-p), first at flat %d: x=%r y=%r' % (
                int(bad.sum()), i, float(x.reshape(-1)[i]), float(y.reshape(-1)[i])))
        n = x.numel()
        frac = float(kept.sum()) / n
        sigma = math.sqrt(p * (1 - p) / n)
        if abs(frac - (1 - p)) > 6 * sigma + 1e-12:
            errs.append('kept fraction %.4f, expected %.4f +- %.4f (6 sigma)' % (frac, 1 - p, 6 * sigma))
        return errs
    return check


def add_dropout_cases():
    seed = lambda r, s: r.integers(-2**62, 2**62, s)
    for dt, shape in (('f32', (3, 4)), ('f64', (17,)), ('f16', (2, 3, 5)), ('bf16', (7,)), ('f32', (0, 3))):
        simple('dropout', [I('x', dt, shape), I('s', 'i64', (), seed)], lambda x, s: x.clone(),
               {'p': 0.0}, tag='p=0')
        simple('dropout', [I('x', dt, shape), I('s', 'i64', (), seed)], lambda x, s: x.clone(),
               {'p': 0.5, 'train': False}, tag='eval')
    simple('dropout', [I('x', 'i64', (3, 4)), I('s', 'i64', (), seed)], lambda x, s: x.clone(),
           {'p': 0.0}, tag='p=0')
    simple('dropout', [I('x', 'i32', (3, 4)), I('s', 'i64', (), seed)], lambda x, s: x.clone(),
           {'p': 0.3, 'train': False}, tag='eval')
    simple('dropout', [I('x', 'f32', (3, 4)), I('s', 'i64', (), seed)],
           lambda x, s: F.dropout(x, 1.0, True), {'p': 1.0}, tag='p=1')
    for dt, shape, p in (('f32', (64, 64), 0.5), ('f64', (4000,), 0.2), ('f16', (50, 60), 0.5),
                         ('bf16', (3000,), 0.5), ('f32', (7, 17, 13), 0.9), ('f32', (1000,), 0.1)):
        # statistics (every value 0 or x/(1-p), kept fraction ~ 1-p), and the exact documented mask
        simple('dropout', [I('x', dt, shape), I('s', 'i64', (), seed)], dropout_ref(p), {'p': p},
               tag='p=%s' % p, check=dropout_check(p, dt))
    # the mask depends only on (seed, flat index): the same through a reshape
    body = '\n'.join([node('dropout', ['x', 's'], {'p': 0.5}, ('a',)),
                      node('reshape', ['x'], {'shape': [12]}, ('f',)),
                      node('dropout', ['%f', 's'], {'p': 0.5}, ('g',)),
                      node('reshape', ['%g'], {'shape': [3, 4]}, ('b',))])
    add_case(Case('dropout[reshape-invariant]/f32,i64/3x4,scalar', ['dropout', 'reshape'], body,
                  [I('x', 'f32', (3, 4)), I('s', 'i64', (), seed)], outs=('a', 'b'),
                  check=lambda got, ts: [] if np.array_equal(got[0], got[1]) else
                  ['dropout(x) and reshape(dropout(reshape(x))) differ']))


# ---- linear algebra, convolution, pooling ------------------------------------

def add_linalg_cases():
    for sa, sb in [((4,), (4,)), ((4,), (4, 3)), ((3, 4), (4,)), ((3, 4), (4, 5)), ((2, 3, 4), (4, 5)),
                   ((3, 4), (2, 4, 5)), ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 6)), ((4,), (2, 4, 3)),
                   ((2, 3, 4), (4,)), ((1, 1), (1, 1)), ((7, 17), (17, 3)), ((3, 0), (0, 4)), ((0, 3), (3, 2)),
                   ((2, 0, 3), (3, 4)), ((1,), (1,)), ((3, 1, 2, 3), (1, 4, 3, 2))]:
        simple('matmul', [I('a', 'f32', sa), I('b', 'f32', sb)], torch.matmul)
    for dt, (sa, sb) in (('f64', ((3, 4), (4, 5))), ('f64', ((2, 3, 4), (4,))), ('f16', ((3, 8), (8, 5))),
                         ('f16', ((2, 3, 4), (4, 5))), ('bf16', ((3, 16), (16, 2))), ('bf16', ((4,), (4,))),
                         ('i32', ((3, 4), (4, 5))), ('i64', ((2, 3, 4), (4,)))):
        simple('matmul', [I('a', dt, sa), I('b', dt, sb)], torch.matmul)

    for xs, n, bias, dt in [((3, 5), 4, True, 'f32'), ((3, 5), 4, False, 'f32'), ((5,), 3, True, 'f32'),
                            ((2, 3, 5), 4, True, 'f64'), ((1, 1), 1, True, 'f32'), ((0, 5), 4, True, 'f32'),
                            ((3, 17), 7, True, 'f16'), ((3, 8), 2, False, 'bf16'), ((2, 2, 2, 3), 5, True, 'f64'),
                            ((4, 0), 3, True, 'f32'), ((3, 4), 5, True, 'i64'), ((2, 2, 3), 2, False, 'i32')]:
        ins = [I('x', dt, xs), I('w', dt, (n, xs[-1]))] + ([I('b', dt, (n,))] if bias else [])
        simple('linear', ins, F.linear, tag='bias' if bias else 'nobias')

    # conv2d
    for xs, ws, bias, attrs, dt in [
            ((1, 3, 7, 7), (4, 3, 3, 3), True, {}, 'f32'),
            ((2, 3, 7, 5), (4, 3, 3, 3), False, {'stride': [2, 2]}, 'f32'),
            ((2, 3, 7, 7), (4, 3, 3, 3), True, {'padding': [1, 1]}, 'f32'),
            ((2, 3, 9, 9), (2, 3, 3, 3), True, {'dilation': [2, 2]}, 'f32'),
            ((1, 4, 6, 6), (6, 2, 3, 3), True, {'groups': 2}, 'f32'),
            ((2, 3, 7, 7), (3, 1, 3, 3), True, {'groups': 3, 'padding': [1, 1]}, 'f32'),
            ((1, 3, 8, 7), (5, 3, 2, 3), True, {'stride': [2, 1], 'padding': [1, 2], 'dilation': [1, 2]}, 'f32'),
            ((1, 2, 5, 5), (2, 2, 1, 1), False, {'stride': [3]}, 'f32'),
            ((1, 2, 5, 5), (2, 2, 3, 3), True, {'padding': [2]}, 'f64'),
            ((3, 7, 7), (4, 3, 3, 3), True, {'padding': [1, 1]}, 'f32'),
            ((0, 3, 5, 5), (4, 3, 3, 3), True, {}, 'f32'),
            ((2, 4, 17, 3), (4, 1, 5, 1), True, {'groups': 4, 'stride': [3, 1]}, 'f64'),
            ((1, 3, 6, 6), (4, 3, 3, 3), True, {'padding': [1, 1]}, 'f16'),
            ((1, 2, 5, 5), (3, 2, 3, 3), True, {'stride': [2, 2]}, 'bf16'),
            ((1, 1, 1, 1), (1, 1, 1, 1), True, {}, 'f32'),
            ((1, 2, 3, 3), (2, 2, 5, 5), True, {'padding': [1, 1]}, 'f32')]:
        ins = [I('x', dt, xs), I('w', dt, ws)] + ([I('b', dt, (ws[0],))] if bias else [])
        tag = ','.join('%s=%s' % (k, v) for k, v in attrs.items())
        simple('conv2d', ins, (lambda a: lambda x, w, b=None: F.conv2d(x, w, b, **a))(attrs), attrs,
               tag=tag)

    # pooling
    def mp_ref(a):
        def f(x):
            kw = dict(kernel_size=a['kernel_size'], stride=a.get('stride') or None, padding=a.get('padding', 0),
                      dilation=a.get('dilation', 1), ceil_mode=a.get('ceil_mode', False))
            if x.is_floating_point():
                return F.max_pool2d(x, **kw)
            return F.max_pool2d(x.double(), **kw).to(x.dtype)  # 1.13 has no int kernel; exact
        return f

    for xs, attrs, dt in [((1, 2, 6, 6), {'kernel_size': [2, 2]}, 'f32'),
                          ((2, 3, 7, 7), {'kernel_size': [3, 3], 'stride': [2, 2], 'padding': [1, 1]}, 'f32'),
                          ((1, 1, 9, 9), {'kernel_size': [3, 3], 'dilation': [2, 2]}, 'f32'),
                          ((1, 2, 7, 7), {'kernel_size': [2, 2], 'ceil_mode': True}, 'f32'),
                          ((1, 2, 8, 5), {'kernel_size': [3, 2], 'stride': [2, 1], 'ceil_mode': True}, 'f64'),
                          ((1, 1, 6, 6), {'kernel_size': [3, 3], 'stride': [2, 2], 'padding': [1, 1],
                                          'ceil_mode': True}, 'f32'),
                          ((3, 7, 7), {'kernel_size': [3, 3]}, 'f32'),
                          ((0, 2, 4, 4), {'kernel_size': [2, 2]}, 'f32'),
                          ((1, 2, 5, 5), {'kernel_size': [2]}, 'f16'),
                          ((1, 2, 5, 5), {'kernel_size': [2, 2], 'stride': [1, 1]}, 'bf16'),
                          ((1, 2, 5, 5), {'kernel_size': [2, 2]}, 'i32'),
                          ((1, 2, 6, 7), {'kernel_size': [3, 3], 'stride': [2, 2], 'padding': [1, 1]}, 'i64'),
                          ((1, 1, 1, 1), {'kernel_size': [1, 1]}, 'f32'),
                          ((2, 2, 17, 3), {'kernel_size': [4, 3], 'stride': [4, 1], 'padding': [2, 1]}, 'f64'),
                          ((1, 2, 5, 6), {'kernel_size': [2, 2]}, 'special-f32'),
                          ((1, 1, 4, 4), {'kernel_size': [2, 2], 'stride': []}, 'f32')]:
        gen = 'normal'
        if dt.startswith('special-'):
            gen, dt = 'special', dt[8:]
        tag = ','.join('%s=%s' % (k, v) for k, v in attrs.items() if k != 'kernel_size')
        simple('max_pool2d', [I('x', dt, xs, gen)], mp_ref(attrs), attrs, tag=tag)

    def ap_ref(a):
        return lambda x: F.avg_pool2d(x, a['kernel_size'], stride=a.get('stride') or None,
                                      padding=a.get('padding', 0), ceil_mode=a.get('ceil_mode', False),
                                      count_include_pad=a.get('count_include_pad', True))

    for xs, attrs, dt in [((1, 2, 6, 6), {'kernel_size': [2, 2]}, 'f32'),
                          ((2, 3, 7, 7), {'kernel_size': [3, 3], 'stride': [2, 2], 'padding': [1, 1]}, 'f32'),
                          ((2, 3, 7, 7), {'kernel_size': [3, 3], 'stride': [2, 2], 'padding': [1, 1],
                                          'count_include_pad': False}, 'f32'),
                          ((1, 2, 7, 7), {'kernel_size': [2, 2], 'ceil_mode': True}, 'f32'),
                          ((1, 2, 7, 7), {'kernel_size': [2, 2], 'ceil_mode': True, 'count_include_pad': False},
                           'f32'),
                          ((1, 1, 6, 6), {'kernel_size': [3, 3], 'stride': [2, 2], 'padding': [1, 1],
                                          'ceil_mode': True}, 'f64'),
                          ((1, 1, 6, 6), {'kernel_size': [3, 3], 'stride': [2, 2], 'padding': [1, 1],
                                          'ceil_mode': True, 'count_include_pad': False}, 'f64'),
                          ((1, 2, 8, 5), {'kernel_size': [3, 2], 'stride': [2, 1], 'padding': [1, 1],
                                          'ceil_mode': True}, 'f32'),
                          ((3, 5, 5), {'kernel_size': [2, 2]}, 'f32'),
                          ((0, 2, 4, 4), {'kernel_size': [2, 2]}, 'f32'),
                          ((1, 2, 5, 5), {'kernel_size': [2]}, 'f16'),
                          ((1, 2, 5, 5), {'kernel_size': [3, 3], 'padding': [1, 1]}, 'bf16'),
                          ((2, 2, 17, 3), {'kernel_size': [4, 3], 'stride': [4, 1], 'padding': [2, 1],
                                           'count_include_pad': False}, 'f64'),
                          ((1, 1, 1, 1), {'kernel_size': [1, 1]}, 'f32')]:
        tag = ','.join('%s=%s' % (k, v) for k, v in attrs.items() if k != 'kernel_size')
        simple('avg_pool2d', [I('x', dt, xs)], ap_ref(attrs), attrs, tag=tag, out_dtypes=[dt])
    # i64 averages divide with truncation toward zero, as PyTorch's integer kernel does
    for xs, attrs in [((1, 2, 6, 6), {'kernel_size': [2, 2]}),
                      ((2, 1, 7, 7), {'kernel_size': [3, 3], 'stride': [2, 2], 'padding': [1, 1]}),
                      ((1, 1, 7, 7), {'kernel_size': [3, 3], 'stride': [2, 2], 'padding': [1, 1],
                                      'count_include_pad': False, 'ceil_mode': True}),
                      ((3, 5, 5), {'kernel_size': [2, 3], 'ceil_mode': True})]:
        tag = ','.join('%s=%s' % (k, v) for k, v in attrs.items() if k != 'kernel_size')
        simple('avg_pool2d', [I('x', 'i64', xs, 'wide')], ap_ref(attrs), attrs, tag=tag)

    for xs, osz, dt in [((1, 2, 7, 5), [1, 1], 'f32'), ((1, 2, 7, 5), [3, 2], 'f32'), ((2, 3, 6, 6), [4, 4], 'f32'),
                        ((1, 1, 5, 7), [5, 7], 'f64'), ((3, 17, 3), [4, 2], 'f32'), ((1, 2, 3, 3), [5, 4], 'f64'),
                        ((1, 2, 8, 8), [2, 2], 'f16'), ((1, 2, 9, 6), [4, 3], 'bf16'), ((0, 2, 4, 4), [2, 2], 'f32'),
                        ((1, 1, 13, 11), [3, 7], 'f32')]:
        simple('adaptive_avg_pool2d', [I('x', dt, xs)],
               (lambda o: lambda x: F.adaptive_avg_pool2d(x, o))(osz), {'output_size': osz},
               tag=shp(osz), out_dtypes=[dt])


# ---- shape ops -------------------------------------------------------------

def add_shape_cases():
    for op in ('reshape', 'view'):
        for xs, new, dt in [((3, 4), [12], 'f32'), ((3, 4), [2, -1], 'f64'), ((2, 3, 4), [4, 1, 6], 'i64'),
                            ((12,), [3, 2, 2], 'bool'), ((), [1, 1], 'f32'), ((1,), [], 'i32'),
                            ((0, 3), [3, 0], 'f32'), ((0, 3), [-1], 'f16'), ((7,), [7, 1], 'bf16'),
                            ((2, 1, 5), [-1, 5], 'f32')]:
            simple(op, [I('x', dt, xs)], (lambda n: lambda x: x.reshape(n))(new), {'shape': new},
                   tag=shp(new))
    for xs, dims, dt in [((2, 3, 4), [2, 0, 1], 'f32'), ((2, 3, 4), [0, 1, 2], 'i64'), ((3, 4), [1, 0], 'bool'),
                         ((2, 1, 5, 3), [3, 1, 0, 2], 'f16'), ((7,), [0], 'f64'), ((), [], 'f32'),
                         ((0, 3, 2), [2, 0, 1], 'f32'), ((2, 3, 4), [-1, 0, -2], 'bf16')]:
        simple('permute', [I('x', dt, xs)], (lambda d: lambda x: x.permute(*d) if d else x.clone())(dims), {'dims': dims},
               tag=shp(dims))
    for xs, d0, d1, dt in [((3, 4), 0, 1, 'f32'), ((2, 3, 4), 0, 2, 'i32'), ((2, 3, 4), -1, -2, 'f64'),
                           ((5,), 0, 0, 'bool'), ((2, 0, 3), 1, 2, 'f32'), ((1, 7, 1), 0, 2, 'f16')]:
        simple('transpose', [I('x', dt, xs)], (lambda a, b: lambda x: x.transpose(a, b))(d0, d1),
               {'dim0': d0, 'dim1': d1}, tag='%d,%d' % (d0, d1))
    for xs, new, dt in [((3, 1), [3, 4], 'f32'), ((1,), [7], 'i64'), ((3, 1), [2, 3, 5], 'f64'),
                        ((3, 1), [-1, 4], 'bool'), ((), [2, 3], 'f32'), ((1, 4), [0, 4], 'f32'),
                        ((2, 1, 1), [2, 3, 17], 'bf16'), ((3, 4), [3, 4], 'i32'), ((1, 1), [2, -1, -1], 'f16')]:
        simple('expand', [I('x', dt, xs)], (lambda n: lambda x: x.expand(*n).clone())(new), {'shape': new},
               tag=shp(new).replace('-', 'm'))
    for xs, dim, st, en, step, dt in [((7, 4), 0, 1, 5, None, 'f32'), ((7, 4), 0, -3, None, None, 'f64'),
                                      ((7, 4), 1, None, -1, None, 'i64'), ((17,), 0, 2, 100, 3, 'f32'),
                                      ((3, 5, 4), 1, -100, 100, 2, 'bool'), ((3, 5), 1, 4, 2, None, 'f32'),
                                      ((3, 5), -1, 0, 0, None, 'i32'), ((0, 3), 0, 0, 5, None, 'f32'),
                                      ((6,), 0, 5, 6, 7, 'f16'), ((2, 9), 1, 1, None, 4, 'bf16'),
                                      ((6, 2), -2, -4, -1, 1, 'f32')]:
        attrs = {'dim': dim}
        for k, v in (('start', st), ('end', en), ('step', step)):
            if v is not None:
                attrs[k] = v

        def sl(x, dim=dim, st=st, en=en, step=step):
            d = dim % x.dim()
            return x[(slice(None),) * d + (slice(st, en, step),)].clone()
        simple('slice', [I('x', dt, xs)], sl, attrs, tag='%s:%s:%s@%d' % (st, en, step, dim))
    for shapes, dts, dim in [([(2, 3), (4, 3)], ['f32', 'f32'], 0), ([(2, 3), (2, 5), (2, 1)], ['f64'] * 3, 1),
                             ([(2, 3), (2, 3)], ['i32', 'i64'], -1), ([(2, 3, 4), (2, 0, 4)], ['f32', 'f32'], 1),
                             ([(3,), (4,), (1,)], ['bool', 'bool', 'bool'], 0),
                             ([(1, 2), (1, 2)], ['f16', 'bf16'], 0), ([(3, 2)], ['f32'], 1),
                             ([(2, 2), (2, 2)], ['i32', 'f16'], 0), ([(2, 2), (3, 2)], ['bool', 'i64'], 0),
                             ([(0, 2), (0, 2)], ['f32', 'f32'], 0), ([(5, 1), (5, 17)], ['f32', 'f64'], 1)]:
        ins = [I('x%d' % k, dt, s) for k, (s, dt) in enumerate(zip(shapes, dts))]
        simple('cat', ins, (lambda d: lambda *xs: torch.cat(xs, d))(dim), {'dim': dim}, tag='dim=%d' % dim)
    for xs, dim, sizes, dt in [((7, 3), 0, [2, 5], 'f32'), ((3, 7), 1, [1, 0, 6], 'i64'), ((4, 6), -1, [6], 'f64'),
                               ((2, 5, 3), 1, [1, 1, 1, 1, 1], 'bool'), ((0, 3), 0, [0, 0], 'f32'),
                               ((17,), 0, [3, 7, 7], 'bf16'), ((4, 2), 0, [3, 1], 'f16')]:
        res = tuple('r%d' % k for k in range(len(sizes)))
        simple('split', [I('x', dt, xs)], (lambda d, s: lambda x: tuple(t.clone() for t in torch.split(x, s, d)))(
            dim, sizes), {'dim': dim, 'sizes': sizes}, tag=shp(sizes), res=res)

    def squeeze_ref(dims):
        def f(x):
            if dims is None:
                return x.squeeze().clone()
            for d in sorted((d % max(x.dim(), 1) for d in dims), reverse=True):
                x = x.squeeze(d)
            return x.clone()
        return f

    for xs, dims, dt in [((1, 3, 1, 4), None, 'f32'), ((1, 3, 1, 4), [0], 'f64'), ((1, 3, 1, 4), [0, 2], 'i64'),
                         ((1, 3, 1, 4), [-2], 'bool'), ((1, 1), None, 'f32'), ((3, 4), None, 'i32'),
                         ((1,), [0], 'f16'), ((1, 0, 1), None, 'f32'), ((2, 1, 17), [1], 'bf16'),
                         ((), None, 'f32'), ((3, 1), [0], 'f32')]:
        attrs = {} if dims is None else {'dim': dims}
        simple('squeeze', [I('x', dt, xs)], squeeze_ref(dims), attrs, tag=shp(dims or []))
    for xs, d, dt in [((3, 4), 0, 'f32'), ((3, 4), 2, 'i64'), ((3, 4), -1, 'f64'), ((3, 4), -3, 'bool'),
                      ((), 0, 'f32'), ((0, 2), 1, 'f16'), ((7,), 1, 'bf16'), ((2, 3), -2, 'i32')]:
        simple('unsqueeze', [I('x', dt, xs)], (lambda d: lambda x: x.unsqueeze(d).clone())(d), {'dim': d},
               tag=str(d))


# ---- indexing and data-dependent sizes ------------------------------------------

def add_index_cases():
    for xs, dim, k, idt, dt in [((5, 4), 0, 6, 'i64', 'f32'), ((5, 4), 1, 3, 'i32', 'f64'), ((5, 4), -1, 0, 'i64', 'f32'),
                                ((2, 7, 3), 1, 9, 'i64', 'i64'), ((7,), 0, 7, 'i32', 'bool'), ((3, 5), 0, 1, 'i64', 'f16'),
                                ((3, 17), 1, 4, 'i64', 'bf16'), ((0, 3), 1, 2, 'i64', 'f32'), ((4, 2), 0, 4, 'i32', 'i32')]:
        n = xs[dim % len(xs)]
        simple('index_select', [I('x', dt, xs), I('i', idt, (k,), ('int', 0, n))],
               (lambda d: lambda x, i: torch.index_select(x, d, i.long()))(dim), {'dim': dim}, tag='dim=%d' % dim)
    for xs, dim, isz, idt, dt in [((4, 5), 0, (3, 5), 'i64', 'f32'), ((4, 5), 1, (4, 7), 'i64', 'f64'),
                                  ((4, 5), 1, (2, 3), 'i32', 'f32'), ((2, 3, 4), -1, (2, 3, 1), 'i64', 'i64'),
                                  ((2, 3, 4), 0, (1, 2, 2), 'i64', 'bool'), ((6,), 0, (9,), 'i64', 'f16'),
                                  ((3, 3), 0, (0, 3), 'i64', 'f32'), ((3, 4), 1, (3, 4), 'i64', 'bf16'),
                                  ((), 0, (), 'i64', 'f32')]:
        n = xs[dim % len(xs)] if xs else 1
        simple('gather', [I('x', dt, xs), I('i', idt, isz, ('int', 0, n))],
               (lambda d: lambda x, i: torch.gather(x, d, i.long()))(dim), {'dim': dim}, tag='dim=%d' % dim)
    for isz, v, d, idt, dt in [((2, 3), 10, 4, 'i64', 'f32'), ((5,), 7, 3, 'i32', 'f64'), ((), 4, 3, 'i64', 'f32'),
                               ((2, 1, 3), 3, 1, 'i64', 'f16'), ((0,), 5, 2, 'i64', 'f32'), ((4,), 1, 17, 'i64', 'bf16'),
                               ((3, 3), 6, 2, 'i32', 'i64'), ((3,), 4, 0, 'i64', 'f32')]:
        simple('embedding', [I('i', idt, isz, ('int', 0, v)), I('w', dt, (v, d))],
               lambda i, w: F.embedding(i.long(), w))

    zeros_ones = lambda r, s: (r.random(s) < 0.5).astype(np.int64) * r.integers(1, 4, s)
    for xs, dt, gen in [((3, 4), 'i64', zeros_ones), ((7,), 'bool', None), ((2, 3, 4), 'i32', zeros_ones),
                        ((3, 4), 'f32', lambda r, s: np.where(r.random(s) < 0.5, 0.0, r.standard_normal(s))),
                        ((4, 4), 'f64', lambda r, s: np.array([[0.0, -0.0, 1.0, np.nan]] * 4)),
                        ((3, 3), 'i64', lambda r, s: np.zeros(s)), ((0, 3), 'f32', 'normal'), ((), 'i64', ('int', 1, 3)),
                        ((5,), 'f16', lambda r, s: np.where(r.random(s) < 0.3, 0.0, 1.0)),
                        ((2, 6), 'bf16', lambda r, s: np.where(r.random(s) < 0.5, 0.0, r.standard_normal(s)))]:
        simple('nonzero', [I('x', dt, xs, gen or 'normal')],
               lambda x: (torch.nonzero(x), torch.tensor(int(torch.count_nonzero(x)))), res=('idx', 'n'))
    # the count defines a symbol that later dims can use
    body = '\n'.join([node('nonzero', ['x'], None, ('idx', 'n')), node('ones', [], {'shape': ['n', 2]}, ('o',)),
                      node('sum', ['%idx'], {'dim': [0]}, ('s',))])
    add_case(Case('nonzero[symbol]/i64/4x5', ['nonzero', 'ones', 'sum'], body, [I('x', 'i64', (4, 5), zeros_ones)],
                  lambda x: (torch.ones(int(torch.count_nonzero(x)), 2), torch.nonzero(x).sum(0)), outs=('o', 's')))

    for xs, dt, gen in [((), 'i64', ('int', -5, 6)), ((1,), 'i32', ('int', -5, 6)), ((1, 1), 'i64', ('int', 0, 9)),
                        ((1, 1, 1), 'bool', None), ((), 'bool', None)]:
        simple('item', [I('x', dt, xs, gen or 'normal')], lambda x: torch.tensor(int(x.reshape(-1)[0])))
    # item's symbol sizes later results
    body = '\n'.join([node('item', ['x'], None, ('n',)), node('arange', [], {'end': ['n']}, ('a',)),
                      node('full', [], {'shape': [2, 'n'], 'value': 1.5}, ('f',))])
    add_case(Case('item[symbol]/i64/1', ['item', 'arange', 'full'], body, [I('x', 'i64', (1,), ('int', 0, 9))],
                  lambda x: (torch.arange(int(x[0])), torch.full((2, int(x[0])), 1.5)), outs=('a', 'f')))


# ---- creation --------------------------------------------------------------

def add_create_cases():
    for shape, value, dt in [([3, 4], 2.5, None), ([7], -1.25, 'f64'), ([], 3.0, 'f32'), ([0, 2], 1.0, 'f32'),
                             ([2, 3], 3.7, 'i32'), ([2, 3], -3.7, 'i64'), ([4], 0.5, 'bool'), ([4], 0.0, 'bool'),
                             ([2, 2], 0.1, 'f16'), ([1, 17], 0.1, 'bf16'), ([3], float('-inf'), 'f32'),
                             ([3], float('nan'), 'f64'), ([2], 1e-05, 'f32'), ([2, 1, 3], 65504.0, 'f16'),
                             ([3], float('nan'), 'bool')]:
        attrs = {'shape': shape, 'value': value}
        if dt:
            attrs['dtype'] = dt
        tdt = TORCH_DT[dt or 'f32']

        def ref(shape=shape, value=value, tdt=tdt):
            if tdt == torch.bool:
                return torch.full(shape, value != 0)  # NaN != 0 is true, as in torch's cast
            return torch.full(shape, value, dtype=tdt)
        simple('full', [], ref, attrs, tag='%s,%s,%s' % (shp(shape), value, dt or 'default'))
    for op, fn in (('zeros', torch.zeros), ('ones', torch.ones)):
        for shape, dt in [([3, 4], None), ([7], 'f64'), ([], 'i32'), ([0, 5], 'f32'), ([2, 3], 'i64'),
                          ([2, 2], 'bool'), ([1, 3], 'f16'), ([4], 'bf16')]:
            attrs = {'shape': shape}
            if dt:
                attrs['dtype'] = dt
            simple(op, [], (lambda f, s, d: lambda: f(s, dtype=TORCH_DT[d or 'f32']))(fn, shape, dt), attrs,
                   tag='%s,%s' % (shp(shape), dt or 'default'))
    for end, start, step, dt in [(10, None, None, None), (10, 2, 3, None), (0, 10, -3, None), (5, 5, None, None),
                                 (7, -3, 2, 'f32'), (17, 0, 4, 'i32'), (1, 0, None, 'f64'), (-7, 2, -1, 'i64'),
                                 (6, 1, 2, 'f16'), (9, 0, 3, 'bf16'), (3, 8, None, None)]:
        attrs = {'end': [end]}
        if start is not None:
            attrs['start'] = start
        if step is not None:
            attrs['step'] = step
        if dt:
            attrs['dtype'] = dt

        def ref(end=end, start=start, step=step, dt=dt):
            if (end - (start or 0)) * (step or 1) < 0:
                return torch.zeros(0, dtype=TORCH_DT[dt or 'i64'])  # torch rejects; graphc: see below
            return torch.arange(start or 0, end, step or 1, dtype=TORCH_DT[dt or 'i64'])
        if end < (start or 0) and (step or 1) > 0:
            # torch.arange(8, 3) is an error ("upper bound and larger bound inconsistent with step sign")
            neg_case('arange-inconsistent', node('arange', [], attrs), [],
                     r'inconsistent|negative')
            continue
        simple('arange', [], ref, attrs, tag='%s,%s,%s,%s' % (start, end, step, dt))


# ---- regions ---------------------------------------------------------------

def region_decl(params):
    return ', '.join('%s: %s[%s]' % (n, dt, ', '.join(map(str, s))) for n, dt, s in params)


def add_region_cases():
    for op in ('checkpoint', 'call'):
        for dt in ('f32', 'f64', 'f16'):
            rnd = (lambda d: (lambda t: t.to(TORCH_DT[d]).double()) if d != 'f64' else (lambda t: t))(dt)
            body = '\n'.join([
                '  %%r = %s(x, w) region(%s) {' % (op, region_decl([('p', dt, (3, 4)), ('q', dt, (4,))])),
                '    %t = mul(p, q)',
                '    %u = tanh(%t)',
                '    %v = sum(%u, dim=[1])',
                '    return %v',
                '  }'])
            # The interpreter rounds every node result to dt: so does the reference.
            add_case(Case('%s[mul-tanh-sum]/%s,%s/3x4,4' % (op, dt, dt), [op, 'mul', 'tanh', 'sum'], body,
                          [I('x', dt, (3, 4)), I('w', dt, (4,))],
                          (lambda rnd: lambda x, w: rnd(torch.tanh(rnd(x * w))).sum(1))(rnd), out_dtypes=[dt]))
        # several results, a nested region, an int operand
        body = '\n'.join([
            '  %%a, %%b = %s(x, i) region(%s) {' % (op, region_decl([('p', 'f32', (5, 3)), ('j', 'i64', (2,))])),
            '    %s = index_select(p, j, dim=0)',
            '    %e = exp(%s)',
            '    %n = checkpoint(%e) region(z: f32[2, 3]) {',
            '      %m = amax(z, dim=[1], keepdim=true)',
            '      %d = sub(z, %m)',
            '      return %d',
            '    }',
            '    %c = cast(j, dtype=f32)',
            '    return %n, %c',
            '  }'])
        add_case(Case('%s[multi-result,nested]/f32,i64/5x3,2' % op, [op, 'checkpoint', 'index_select', 'exp', 'amax',
                                                                      'sub', 'cast'], body,
                      [I('x', 'f32', (5, 3)), I('i', 'i64', (2,), ('int', 0, 5))],
                      lambda x, i: ((lambda e: e - e.amax(1, keepdim=True))(torch.exp(x[i]).float().double()),
                                    i.to(torch.float32)),
                      outs=('a', 'b'), out_dtypes=['f32', 'f32']))
        # a region that only passes its input through, and one with no operands
        body = '\n'.join(['  %%r = %s(x) region(p: bf16[7]) {' % op, '    return p', '  }'])
        add_case(Case('%s[identity]/bf16/7' % op, [op], body, [I('x', 'bf16', (7,))], lambda x: x.clone()))
        body = '\n'.join(['  %%r = %s() region() {' % op, '    %o = arange(end=[5], dtype=f32)', '    return %o',
                          '  }'])
        add_case(Case('%s[no-operands]' % op, [op, 'arange'], body, [], lambda: torch.arange(5, dtype=torch.float32)))


def sdpa_ref(causal=False, scale=None, has_mask=False, score_fn=None):
    """softmax(q k^T * scale [score_fn] [causal] [mask]) v by hand: torch
    1.13 has no F.scaled_dot_product_attention. Causal is top-left aligned
    (tril of ones(Sq, Skv)), as in PyTorch 2's is_causal; a bool mask keeps
    true; a float mask is added. A row masked entirely gets zero weights
    (PyTorch >= 2.5's _safe_softmax in the math backend; a plain softmax
    would give NaN)."""
    def f(q, k, v, *rest):
        mask = rest[0] if has_mask else None
        caps = rest[1:] if has_mask else rest
        sc = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
        s = torch.matmul(q, k.transpose(-1, -2)) * sc
        if score_fn:
            s = score_fn(s, *caps)
        if causal:
            keep = torch.ones(s.shape[-2], s.shape[-1], dtype=torch.bool).tril()
            s = s.masked_fill(~keep, -INF)
        if mask is not None:
            s = s.masked_fill(~mask, -INF) if mask.dtype == torch.bool else s + mask
        dead = (s == -INF).all(-1, keepdim=True)
        w = torch.softmax(s, -1).masked_fill(dead, 0.0)
        return torch.matmul(w, v)
    return f


def add_sdpa_cases():
    op = 'scaled_dot_product_attention'
    for qs, ks, vs, dt, attrs in [((2, 3, 5, 8), (2, 3, 6, 8), (2, 3, 6, 4), 'f32', {}),
                                  ((2, 3, 5, 8), (2, 3, 5, 8), (2, 3, 5, 8), 'f32', {'causal': True}),
                                  ((1, 2, 4, 8), (1, 2, 7, 8), (1, 2, 7, 3), 'f64', {'causal': True}),
                                  ((2, 5, 4), (2, 6, 4), (2, 6, 4), 'f32', {'scale': 0.3}),
                                  ((3, 1, 5, 4), (1, 2, 6, 4), (3, 2, 6, 5), 'f32', {}),
                                  ((2, 2, 1, 8), (2, 2, 1, 8), (2, 2, 1, 8), 'f32', {'causal': True}),
                                  ((1, 1, 17, 3), (1, 1, 7, 3), (1, 1, 7, 1), 'f64', {'scale': 1.0}),
                                  ((2, 2, 4, 8), (2, 2, 6, 8), (2, 2, 6, 8), 'f16', {}),
                                  ((1, 2, 4, 8), (1, 2, 4, 8), (1, 2, 4, 8), 'bf16', {'causal': True}),
                                  ((2, 2, 3, 2, 4), (2, 2, 3, 5, 4), (2, 2, 3, 5, 6), 'f32', {}),
                                  ((1, 2, 0, 4), (1, 2, 5, 4), (1, 2, 5, 3), 'f32', {})]:
        simple(op, [I('q', dt, qs), I('k', dt, ks), I('v', dt, vs)],
               sdpa_ref(attrs.get('causal', False), attrs.get('scale')), attrs,
               tag=','.join('%s=%s' % kv for kv in attrs.items()))
    # masks: bool (broadcast), float (added), with causal
    rows_alive = lambda r, s: np.where(np.arange(s[-1]) == 0, True, r.random(s) < 0.6)
    for ms, mdt, causal, dt, gen in [((5, 6), 'bool', False, 'f32', rows_alive),
                                     ((1, 1, 5, 6), 'bool', True, 'f32', rows_alive),
                                     ((2, 1, 5, 6), 'f32', False, 'f32', 'normal'),
                                     ((6,), 'f64', True, 'f64', 'normal'),
                                     ((2, 3, 5, 6), 'bool', False, 'f64', rows_alive),
                                     ((5, 1), 'f16', False, 'f16', 'normal')]:
        simple(op, [I('q', dt, (2, 3, 5, 4)), I('k', dt, (2, 3, 6, 4)), I('v', dt, (2, 3, 6, 4)),
                    I('m', mdt, ms, gen)], sdpa_ref(causal, has_mask=True),
               {'causal': causal, 'has_mask': True}, tag='mask=%s,causal=%s' % (mdt, causal))
    # a fully masked row gives zeros (PyTorch's safe softmax)
    simple(op, [I('q', 'f32', (1, 1, 3, 4)), I('k', 'f32', (1, 1, 4, 4)), I('v', 'f32', (1, 1, 4, 2)),
                I('m', 'bool', (3, 4), lambda r, s: np.array([[1, 0, 1, 0], [0, 0, 0, 0], [1, 1, 1, 1]]))],
           sdpa_ref(has_mask=True), {'has_mask': True}, tag='dead-row')
    # float mask with -inf entries
    simple(op, [I('q', 'f32', (1, 2, 3, 4)), I('k', 'f32', (1, 2, 5, 4)), I('v', 'f32', (1, 2, 5, 2)),
                I('m', 'f32', (3, 5), lambda r, s: np.where(r.random(s) < 0.3, -np.inf, r.standard_normal(s)))],
           sdpa_ref(has_mask=True), {'has_mask': True}, tag='mask=-inf')

    # score functions: s + (q_idx - kv_idx) * bias[h]
    # The interpreter hands the region scores rounded to the declared score
    # dtype and rounds every region node's result: the reference does too.
    def alibi_in(dt):
        def alibi(s, bias):
            t = TORCH_DT[dt]
            sq, skv = s.shape[-2], s.shape[-1]
            rel = (torch.arange(sq)[:, None] - torch.arange(skv)[None, :]).to(t)
            return (s.to(t) + rel * bias.to(t).view(1, -1, 1, 1)).double()
        return alibi

    for dt, causal, B, H, Sq, Skv, D in [('f32', False, 2, 3, 5, 6, 4), ('f32', True, 2, 3, 5, 5, 4),
                                         ('f64', True, 1, 4, 7, 3, 8), ('f64', False, 2, 1, 1, 17, 2)]:
        params = [('s', dt, (B, H, Sq, Skv)), ('bq', 'i64', (B, 1, 1, 1)), ('h', 'i64', (1, H, 1, 1)),
                  ('qi', 'i64', (1, 1, Sq, 1)), ('ki', 'i64', (1, 1, 1, Skv)), ('bb', dt, (H,))]
        body = '\n'.join([
            '  %%r = %s(q, k, v, bias, causal=%s) region(%s) {' % (op, fmt_attr(causal), region_decl(params)),
            '    %d = sub(qi, ki)',
            '    %df = cast(%d, dtype=' + dt + ')',
            '    %hf = reshape(h, shape=[' + str(H) + '])',
            '    %bh = index_select(bb, %hf, dim=0)',
            '    %b4 = reshape(%bh, shape=[1, ' + str(H) + ', 1, 1])',
            '    %m = mul(%df, %b4)',
            '    %o = add(s, %m)',
            '    return %o',
            '  }'])
        add_case(Case('%s[score-fn-alibi,causal=%s]/%s/%dx%dx%dx%d' % (op, causal, dt, B, H, Sq, Skv),
                      [op, 'sub', 'cast', 'reshape', 'index_select', 'mul', 'add'], body,
                      [I('q', dt, (B, H, Sq, D)), I('k', dt, (B, H, Skv, D)), I('v', dt, (B, H, Skv, D)),
                       I('bias', dt, (H,))], sdpa_ref(causal, score_fn=alibi_in(dt))))
    # soft-capping with a constant and a bool mask, score declared f32 for f16 q
    params = [('s', 'f32', (1, 2, 4, 6)), ('bq', 'i64', (1, 1, 1, 1)), ('h', 'i64', (1, 2, 1, 1)),
              ('qi', 'i64', (1, 1, 4, 1)), ('ki', 'i64', (1, 1, 1, 6))]
    body = '\n'.join([
        '  %%r = %s(q, k, v, m, has_mask=true, scale=0.5) region(%s) {' % (op, region_decl(params)),
        '    %c = full(shape=[], value=5.0)',
        '    %t = div(s, %c)',
        '    %u = tanh(%t)',
        '    %o = mul(%u, %c)',
        '    return %o',
        '  }'])
    add_case(Case('%s[score-fn-softcap,mask]/f16/1x2x4x6' % op, [op, 'full', 'div', 'tanh', 'mul'], body,
                  [I('q', 'f16', (1, 2, 4, 8)), I('k', 'f16', (1, 2, 6, 8)), I('v', 'f16', (1, 2, 6, 8)),
                   I('m', 'bool', (4, 6), rows_alive)],
                  sdpa_ref(scale=0.5, has_mask=True, score_fn=lambda s: (torch.tanh(s.float() / 5.0) * 5.0).double())))
    # the score function returns a broadcastable (not full) tensor: a bias per (q, kv) only
    params = [('s', 'f32', (2, 2, 3, 4)), ('bq', 'i64', (2, 1, 1, 1)), ('h', 'i64', (1, 2, 1, 1)),
              ('qi', 'i64', (1, 1, 3, 1)), ('ki', 'i64', (1, 1, 1, 4))]
    body = '\n'.join([
        '  %%r = %s(q, k, v) region(%s) {' % (op, region_decl(params)),
        '    %b = ge(qi, ki)',
        '    %o = cast(%b, dtype=f32)',
        '    return %o',
        '  }'])
    add_case(Case('%s[score-fn-replace]/f32/2x2x3x4' % op, [op, 'ge', 'cast'], body,
                  [I('q', 'f32', (2, 2, 3, 5)), I('k', 'f32', (2, 2, 4, 5)), I('v', 'f32', (2, 2, 4, 3))],
                  sdpa_ref(score_fn=lambda s: (torch.arange(3)[:, None] >= torch.arange(4)[None, :]).to(
                      s.dtype).expand(s.shape))))


# ---- gradient ops (lib/ops/ops_grad.c) ------------------------------------------
# The ops reverse-mode autodiff emits, checked one node at a time: detach
# is the identity; index_add, scatter_add, slice_scatter and narrow are
# their torch namesakes; the convolution backward ops are
# torch.nn.grad.conv2d_input / conv2d_weight (autograd of F.conv2d for
# unbatched inputs); the pooling backward ops are torch autograd: the
# forward pool runs on an input with requires_grad, backward with the given
# grad, and input.grad is the expected result. Every kernel here accumulates
# in double and rounds once, which is what the float64 oracle does too.

def input_grad(fwd, x, g):
    """d/dx of <fwd(x), g> by torch autograd (x is copied, so the reference
    can be called again)."""
    with torch.enable_grad():
        xx = x.detach().clone().requires_grad_(True)
        fwd(xx).backward(g)
    return xx.grad


def fwd_shape(fwd, *shapes):
    """The forward op's result shape, by running it on zeros."""
    return tuple(fwd(*[torch.zeros(s, dtype=torch.float64) for s in shapes]).shape)


def attr_tag(attrs, skip=()):
    return ','.join('%s=%s' % (k, fmt_attr(v)) for k, v in attrs.items() if k not in skip)


def add_grad_cases():
    # detach: x unchanged, every dtype
    for xs, dt, gen in [((3, 4), 'f32', 'normal'), ((17,), 'f64', 'normal'), ((), 'f32', 'normal'),
                        ((0, 3), 'f32', 'normal'), ((2, 1, 5), 'f16', 'normal'), ((7,), 'bf16', 'normal'),
                        ((3, 4), 'i32', 'wide'), ((2, 3), 'i64', 'wide'), ((5,), 'bool', 'normal'),
                        ((4, 5), 'f64', 'special'), ((4, 5), 'f32', 'special')]:
        simple('detach', [I('x', dt, xs, gen)], lambda x: x.clone(), tag='' if gen == 'normal' else gen)

    # index_add: repeated indices accumulate (floats in double, rounded once; integers wrap)
    for xs, dim, k, idt, dt, gen in [((5, 4), 0, 6, 'i64', 'f32', 'normal'), ((5, 4), 1, 3, 'i32', 'f64', 'normal'),
                                     ((5, 4), -1, 0, 'i64', 'f32', 'normal'), ((2, 7, 3), 1, 9, 'i64', 'i64', 'normal'),
                                     ((7,), 0, 7, 'i32', 'i32', 'normal'), ((3, 17), 1, 4, 'i64', 'f64', 'normal'),
                                     ((0, 3), 1, 2, 'i64', 'f32', 'normal'), ((3, 5), 0, 11, 'i64', 'f16', 'normal'),
                                     ((2, 9), -2, 5, 'i32', 'bf16', 'normal'),
                                     ((3, 2, 4), -1, 6, 'i64', 'f64', 'normal'),
                                     ((3,), 0, 8, 'i64', 'i32', lambda r, s: r.integers(2**30, 2**31, s))]:
        d = dim % len(xs)
        n = xs[d]
        srcs = tuple(k if i == d else v for i, v in enumerate(xs))
        # few distinct rows, so indices repeat
        simple('index_add', [I('x', dt, xs, gen), I('i', idt, (k,), ('int', 0, max(1, min(n, 3)) if k > n else n)),
                             I('s', dt, srcs, gen)],
               (lambda d: lambda x, i, s: torch.index_add(x, d, i.long(), s))(dim), {'dim': dim},
               tag='dim=%d' % dim)
    # long accumulation onto two rows: one rounding, not one per add
    simple('index_add', [I('x', 'f32', (2, 3), 'pos'), I('i', 'i64', (400,), ('int', 0, 2)),
                         I('s', 'f32', (400, 3), 'pos')],
           lambda x, i, s: torch.index_add(x, 0, i, s), {'dim': 0}, tag='long')

    # scatter_add: source shaped like index; index may be smaller than x off dim
    for xs, dim, isz, idt, dt in [((4, 5), 0, (3, 5), 'i64', 'f32'), ((4, 5), 1, (4, 7), 'i64', 'f64'),
                                  ((4, 5), 1, (2, 3), 'i32', 'f32'), ((2, 3, 4), -1, (2, 3, 1), 'i64', 'f64'),
                                  ((2, 3, 4), 0, (1, 2, 2), 'i64', 'i64'), ((6,), 0, (9,), 'i64', 'f32'),
                                  ((3, 3), 0, (0, 3), 'i64', 'f32'), ((3, 4), 1, (3, 4), 'i32', 'i32'),
                                  ((5,), 0, (12,), 'i64', 'f16'), ((2, 6), 1, (2, 6), 'i64', 'bf16'),
                                  ((3, 4, 2), 1, (3, 9, 2), 'i64', 'f64')]:
        n = xs[dim % len(xs)]
        simple('scatter_add', [I('x', dt, xs), I('i', idt, isz, ('int', 0, n)), I('s', dt, isz)],
               (lambda d: lambda x, i, s: torch.scatter_add(x, d, i.long(), s))(dim), {'dim': dim},
               tag='dim=%d' % dim)

    # slice_scatter: the source has the slice's shape (Python slicing, clamped)
    for xs, dim, st, en, step, dt in [((7, 4), 0, 1, 5, None, 'f32'), ((7, 4), 0, -3, None, None, 'f64'),
                                      ((7, 4), 1, None, -1, None, 'i64'), ((17,), 0, 2, 100, 3, 'f32'),
                                      ((3, 5, 4), 1, -100, 100, 2, 'bool'), ((3, 5), 1, 4, 2, None, 'f32'),
                                      ((6,), 0, 5, 6, 7, 'f16'), ((2, 9), 1, 1, None, 4, 'bf16'),
                                      ((6, 2), -2, -4, -1, 1, 'f64'), ((3, 4), 0, None, None, None, 'f64'),
                                      ((0, 3), 1, 1, 3, None, 'f32'), ((4, 7, 2), -2, 2, 7, 2, 'i32')]:
        attrs = {'dim': dim}
        for k, v in (('start', st), ('end', en), ('step', step)):
            if v is not None:
                attrs[k] = v
        d = dim % len(xs)
        ss = tuple(torch.zeros(xs)[(slice(None),) * d + (slice(st, en, step),)].shape)
        simple('slice_scatter', [I('x', dt, xs), I('s', dt, ss)],
               (lambda dim, st, en, step: lambda x, s: torch.slice_scatter(x, s, dim, st, en, step or 1))(
                   dim, st, en, step), attrs, tag='%s:%s:%s@%d' % (st, en, step, dim))

    # narrow: start and length are dims (constants here; symbolic below)
    for xs, dim, st, ln, dt in [((7, 4), 0, 2, 3, 'f32'), ((7, 4), 1, 0, 4, 'f64'), ((7, 4), -1, 3, 0, 'i64'),
                                ((2, 5, 3), 1, 4, 1, 'bool'), ((17,), 0, 16, 1, 'f16'), ((0, 3), 1, 1, 2, 'f32'),
                                ((3, 5), 0, 0, 3, 'bf16'), ((2, 3, 6), -1, 1, 4, 'i32')]:
        simple('narrow', [I('x', dt, xs)], (lambda d, s, n: lambda x: torch.narrow(x, d, s, n).clone())(dim, st, ln),
               {'dim': dim, 'start': [st], 'length': [ln]}, tag='%d+%d@%d' % (st, ln, dim))
    c = add_case(Case('sym[narrow]/f32/Nx4', ['narrow'], node('narrow', ['x'], {'dim': 0, 'start': ['N-3'],
                                                                                 'length': [2]}),
                      [I('x', 'f32', (9, 4))], lambda x: x[6:8].clone()))
    c.decls = ['x: f32[N, 4] input']
    c = add_case(Case('sym[narrow-length]/f64/3xN', ['narrow'], node('narrow', ['x'], {'dim': 1, 'start': [1],
                                                                                        'length': ['N-2']}),
                      [I('x', 'f64', (3, 6))], lambda x: x[:, 1:5].clone()))
    c.decls = ['x: f64[3, N] input']

    # conv2d_backward_input / conv2d_backward_weight
    def conv_kw(a):
        return dict(stride=a.get('stride', 1), padding=a.get('padding', 0), dilation=a.get('dilation', 1),
                    groups=a.get('groups', 1))

    def conv_bw_input_ref(xs, a):
        def f(g, w):
            if len(xs) == 4:
                return torch.nn.grad.conv2d_input(xs, w, g, **conv_kw(a))
            return input_grad(lambda x: F.conv2d(x, w, **conv_kw(a)), torch.zeros(xs, dtype=g.dtype), g)
        return f

    def conv_bw_weight_ref(ws, a):
        def f(x, g):
            if x.dim() == 4:
                return torch.nn.grad.conv2d_weight(x, ws, g, **conv_kw(a))
            return input_grad(lambda w: F.conv2d(x, w, **conv_kw(a)), torch.zeros(ws, dtype=g.dtype), g)
        return f

    for xs, ws, attrs in [((1, 3, 7, 7), (4, 3, 3, 3), {}),
                          ((2, 3, 8, 6), (4, 3, 3, 3), {'stride': [2, 2]}),       # last row/col unused
                          ((2, 3, 7, 7), (4, 3, 3, 3), {'padding': [1, 1]}),
                          ((2, 3, 9, 9), (2, 3, 3, 3), {'dilation': [2, 2]}),
                          ((1, 4, 6, 6), (6, 2, 3, 3), {'groups': 2}),
                          ((2, 3, 7, 7), (3, 1, 3, 3), {'groups': 3, 'padding': [1, 1]}),
                          ((1, 3, 8, 7), (5, 3, 2, 3), {'stride': [2, 1], 'padding': [1, 2], 'dilation': [1, 2]}),
                          ((1, 2, 5, 5), (2, 2, 1, 1), {'stride': [3]}),
                          ((2, 4, 9, 8), (6, 2, 3, 2), {'stride': [2, 3], 'padding': [1, 1], 'dilation': [2, 1],
                                                        'groups': 2}),
                          ((2, 4, 17, 3), (4, 1, 5, 1), {'groups': 4, 'stride': [3, 1]}),
                          ((1, 2, 3, 3), (2, 2, 5, 5), {'padding': [1, 1]}),  # kernel larger than the input
                          ((1, 1, 1, 1), (1, 1, 1, 1), {}),
                          ((0, 3, 5, 5), (4, 3, 3, 3), {}),
                          ((3, 7, 7), (4, 3, 3, 3), {'padding': [1, 1]}),
                          ((2, 5, 6), (4, 2, 2, 3), {'stride': [2, 2], 'dilation': [2, 1]})]:
        gs = fwd_shape(lambda x, w: F.conv2d(x, w, **conv_kw(attrs)), xs, ws)
        tag = attr_tag(attrs)
        for dt in ('f32', 'f64'):
            simple('conv2d_backward_input', [I('g', dt, gs), I('w', dt, ws)], conv_bw_input_ref(xs, attrs),
                   dict(input_shape=list(xs), **attrs), tag=tag)
            simple('conv2d_backward_weight', [I('x', dt, xs), I('g', dt, gs)], conv_bw_weight_ref(ws, attrs),
                   dict(weight_shape=list(ws), **attrs), tag=tag)

    # pooling backward: autograd through the forward pool
    def mp_fwd(a):
        return lambda x: F.max_pool2d(x, a['kernel_size'], stride=a.get('stride') or None, padding=a.get('padding', 0),
                                      dilation=a.get('dilation', 1), ceil_mode=a.get('ceil_mode', False))

    ties = lambda r, s: r.integers(0, 3, s).astype(np.float64)  # many equal maxima: the first one wins
    for xs, attrs, gen in [((1, 2, 6, 6), {'kernel_size': [2, 2]}, 'normal'),
                           ((2, 3, 7, 7), {'kernel_size': [3, 3], 'stride': [2, 2], 'padding': [1, 1]}, 'normal'),
                           ((1, 1, 9, 9), {'kernel_size': [3, 3], 'dilation': [2, 2]}, 'normal'),
                           ((1, 2, 7, 7), {'kernel_size': [2, 2], 'ceil_mode': True}, 'normal'),
                           ((1, 2, 8, 5), {'kernel_size': [3, 2], 'stride': [2, 1], 'ceil_mode': True}, 'normal'),
                           ((1, 1, 6, 6), {'kernel_size': [3, 3], 'stride': [2, 2], 'padding': [1, 1],
                                           'ceil_mode': True}, 'normal'),
                           ((1, 2, 5, 6), {'kernel_size': [3, 3], 'stride': [1, 1]}, 'normal'),  # overlapping windows
                           ((2, 2, 17, 3), {'kernel_size': [4, 3], 'stride': [4, 1], 'padding': [2, 1]}, 'normal'),
                           ((1, 2, 9, 7), {'kernel_size': [3, 2], 'stride': [2, 3], 'padding': [1, 1],
                                           'dilation': [2, 2], 'ceil_mode': True}, 'normal'),
                           ((3, 7, 7), {'kernel_size': [3, 3]}, 'normal'),
                           ((1, 2, 5, 5), {'kernel_size': [2]}, 'normal'),
                           ((1, 1, 4, 4), {'kernel_size': [2, 2], 'stride': []}, 'normal'),
                           ((1, 1, 1, 1), {'kernel_size': [1, 1]}, 'normal'),
                           ((0, 2, 4, 4), {'kernel_size': [2, 2]}, 'normal'),
                           ((1, 2, 5, 6), {'kernel_size': [2, 2]}, 'special'),
                           ((2, 2, 6, 7), {'kernel_size': [3, 3], 'stride': [1, 2], 'padding': [1, 1]}, ties)]:
        gs = fwd_shape(mp_fwd(attrs), xs)
        tag = attr_tag(attrs, ('kernel_size',)) + ('' if gen == 'normal' else ',' + (gen if isinstance(gen, str)
                                                                                      else 'ties'))
        for dt in ('f32', 'f64'):
            simple('max_pool2d_backward', [I('g', dt, gs), I('x', dt, xs, gen)],
                   (lambda a: lambda g, x: input_grad(mp_fwd(a), x, g))(attrs), attrs, tag=tag.lstrip(','))

    def ap_fwd(a):
        return lambda x: F.avg_pool2d(x, a['kernel_size'], stride=a.get('stride') or None, padding=a.get('padding', 0),
                                      ceil_mode=a.get('ceil_mode', False),
                                      count_include_pad=a.get('count_include_pad', True))

    for xs, attrs in [((1, 2, 6, 6), {'kernel_size': [2, 2]}),
                      ((2, 3, 7, 7), {'kernel_size': [3, 3], 'stride': [2, 2], 'padding': [1, 1]}),
                      ((2, 3, 7, 7), {'kernel_size': [3, 3], 'stride': [2, 2], 'padding': [1, 1],
                                      'count_include_pad': False}),
                      ((1, 2, 7, 7), {'kernel_size': [2, 2], 'ceil_mode': True}),
                      ((1, 2, 7, 7), {'kernel_size': [2, 2], 'ceil_mode': True, 'count_include_pad': False}),
                      ((1, 1, 6, 6), {'kernel_size': [3, 3], 'stride': [2, 2], 'padding': [1, 1], 'ceil_mode': True}),
                      ((1, 1, 6, 6), {'kernel_size': [3, 3], 'stride': [2, 2], 'padding': [1, 1], 'ceil_mode': True,
                                      'count_include_pad': False}),
                      ((1, 2, 8, 5), {'kernel_size': [3, 2], 'stride': [2, 1], 'padding': [1, 1], 'ceil_mode': True}),
                      ((1, 2, 9, 8), {'kernel_size': [3, 3], 'stride': [1, 2], 'padding': [1, 0]}),
                      ((2, 2, 17, 3), {'kernel_size': [4, 3], 'stride': [4, 1], 'padding': [2, 1],
                                       'count_include_pad': False}),
                      ((3, 5, 5), {'kernel_size': [2, 2]}),
                      ((1, 2, 5, 5), {'kernel_size': [2]}),
                      ((1, 1, 4, 5), {'kernel_size': [2, 2], 'stride': []}),
                      ((0, 2, 4, 4), {'kernel_size': [2, 2]}),
                      ((1, 1, 1, 1), {'kernel_size': [1, 1]})]:
        gs = fwd_shape(ap_fwd(attrs), xs)
        for dt in ('f32', 'f64'):
            simple('avg_pool2d_backward', [I('g', dt, gs)],
                   (lambda a, xs: lambda g: input_grad(ap_fwd(a), torch.zeros(xs, dtype=g.dtype), g))(attrs, xs),
                   dict(input_shape=list(xs), **attrs), tag=attr_tag(attrs, ('kernel_size',)))

    for xs, osz in [((1, 2, 7, 5), [1, 1]), ((1, 2, 7, 5), [3, 2]), ((2, 3, 6, 6), [4, 4]), ((1, 1, 5, 7), [5, 7]),
                    ((3, 17, 3), [4, 2]), ((1, 2, 3, 3), [5, 4]), ((1, 1, 13, 11), [3, 7]), ((0, 2, 4, 4), [2, 2])]:
        for dt in ('f32', 'f64'):
            simple('adaptive_avg_pool2d_backward', [I('g', dt, tuple(xs[:-2]) + tuple(osz))],
                   (lambda o, xs: lambda g: input_grad(lambda x: F.adaptive_avg_pool2d(x, o),
                                                        torch.zeros(xs, dtype=g.dtype), g))(osz, xs),
                   {'input_shape': list(xs)}, tag=shp(osz))

    # symbolic input shapes: the shape attribute names the graph's symbols
    c = add_case(Case('sym[avg_pool2d_backward]/f32/BxCx3x3', ['avg_pool2d_backward'],
                      node('avg_pool2d_backward', ['g'], {'input_shape': ['B', 'C', 7, 7], 'kernel_size': [3, 3],
                                                          'stride': [2, 2], 'padding': [1, 1]}),
                      [I('g', 'f32', (2, 3, 4, 4))],
                      lambda g: input_grad(ap_fwd({'kernel_size': [3, 3], 'stride': [2, 2], 'padding': [1, 1]}),
                                           torch.zeros((2, 3, 7, 7), dtype=g.dtype), g)))
    c.decls = ['g: f32[B, C, 4, 4] input']
    c = add_case(Case('sym[conv2d_backward_input]/f64/Bx4x3x3', ['conv2d_backward_input'],
                      node('conv2d_backward_input', ['g', 'w'], {'input_shape': ['B', 3, 7, 7], 'stride': [2, 2]}),
                      [I('g', 'f64', (2, 4, 3, 3)), I('w', 'f64', (4, 3, 3, 3))],
                      lambda g, w: torch.nn.grad.conv2d_input((2, 3, 7, 7), w, g, stride=2)))
    c.decls = ['g: f64[B, 4, 3, 3] input', 'w: f64[4, 3, 3, 3] input']
    c = add_case(Case('sym[adaptive_avg_pool2d_backward]/f32/NxCx2x3', ['adaptive_avg_pool2d_backward'],
                      node('adaptive_avg_pool2d_backward', ['g'], {'input_shape': ['N', 'C', 5, 7]}),
                      [I('g', 'f32', (2, 3, 2, 3))],
                      lambda g: input_grad(lambda x: F.adaptive_avg_pool2d(x, [2, 3]),
                                           torch.zeros((2, 3, 5, 7), dtype=g.dtype), g)))
    c.decls = ['g: f32[N, C, 2, 3] input']

    # rejected: bad shapes at verify time, bad indices and sizes at run time
    f = lambda n, s, dt='f32': I(n, dt, s)
    neg_case('index-add-range', node('index_add', ['x', 'i', 's'], {'dim': 0}),
             [f('x', (3, 2)), I('i', 'i64', (2,), lambda r, s: np.array([1, 3])), f('s', (2, 2))], r'out of range')
    neg_case('scatter-add-range', node('scatter_add', ['x', 'i', 's'], {'dim': 1}),
             [f('x', (3, 2)), I('i', 'i64', (3, 2), lambda r, s: np.full(s, -1)), f('s', (3, 2))], r'out of range')
    neg_case('index-add-source-shape', node('index_add', ['x', 'i', 's'], {'dim': 0}),
             [f('x', (3, 2)), I('i', 'i64', (2,), ('int', 0, 3)), f('s', (3, 2))], r'source')
    neg_case('slice-scatter-length', node('slice_scatter', ['x', 's'], {'dim': 0, 'start': 1, 'end': 3}),
             [f('x', (5, 2)), f('s', (3, 2))], r'slice|source')
    neg_case('narrow-range', node('narrow', ['x'], {'dim': 0, 'start': [3], 'length': [3]}),
             [f('x', (5, 2))], r'outside|range')
    neg_case('conv2d-backward-input-grad-size', node('conv2d_backward_input', ['g', 'w'],
                                                     {'input_shape': [1, 3, 7, 7]}),
             [f('g', (1, 4, 4, 5)), f('w', (4, 3, 3, 3))], r'gradient spatial dim')
    neg_case('conv2d-backward-weight-channels', node('conv2d_backward_weight', ['x', 'g'],
                                                     {'weight_shape': [4, 2, 3, 3]}),
             [f('x', (1, 3, 7, 7)), f('g', (1, 4, 5, 5))], r'channel')
    neg_case('max-pool2d-backward-grad-size', node('max_pool2d_backward', ['g', 'x'], {'kernel_size': [2, 2]}),
             [f('g', (1, 1, 3, 3)), f('x', (1, 1, 5, 5))], r'gradient spatial dim')
    neg_case('avg-pool2d-backward-int', node('avg_pool2d_backward', ['g'], {'input_shape': [1, 1, 4, 4],
                                                                            'kernel_size': [2, 2]}),
             [I('g', 'i64', (1, 1, 2, 2))], r'float')


# ---- symbolic input dims ------------------------------------------------------

def add_symbolic_cases():
    ins = [I('x', 'f32', (3, 4)), I('y', 'f32', (4,))]
    body = '\n'.join([node('add', ['x', 'y']), node('reshape', ['%r'], {'shape': ['B*N']}, ('f',)),
                      node('sum', ['%r'], {'dim': [0]}, ('s',))])
    c = add_case(Case('sym[add-reshape-sum]/f32/BxN,N', ['add', 'reshape', 'sum'], body, ins,
                      # (x + y) is rounded to f32 before the sum, as the interpreter stores it
                      lambda x, y: (lambda r: (r, r.reshape(-1), r.sum(0)))((x + y).float().double()),
                      outs=('r', 'f', 's'), out_dtypes=['f32'] * 3))
    c.decls = ['x: f32[B, N] input', 'y: f32[N] input']
    ins = [I('a', 'f32', (2, 3, 5)), I('b', 'f32', (5, 7))]
    c = add_case(Case('sym[matmul-softmax]/f32/BxMxK,KxN', ['matmul', 'softmax'],
                      '\n'.join([node('matmul', ['a', 'b'], None, ('m',)), node('softmax', ['%m'], {'dim': -1})]),
                      ins, lambda a, b: torch.softmax((a @ b).float().double(), -1), outs=('r',),
                      out_dtypes=['f32']))
    c.decls = ['a: f32[B, M, K] input', 'b: f32[K, N] input']


# ---- seeded shape fuzzing ------------------------------------------------------
# Shapes and attributes drawn from the master seed: each run explores new
# broadcasting patterns, reduction dims, matmul ranks and conv/pool geometry
# (the case names carry them, so a failure names its shape). Draws torch
# rejects are drawn again, so every fuzz case is a valid PyTorch call.

def add_fuzz_cases(seed, scale=1):
    rng = np.random.default_rng([seed, 0xF0221])
    sizes = [1, 1, 2, 3, 5, 7]

    def rshape(rank, zero=0.0):
        return tuple(0 if rng.random() < zero else int(rng.choice(sizes)) for _ in range(rank))

    def valid(fn, *shapes, dts=None):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                fn(*[torch.ones(sh, dtype=TORCH_DT[d] if d in ('f32', 'f64') else torch.float64)
                     for sh, d in zip(shapes, dts or ['f64'] * len(shapes))])
            return True
        except (RuntimeError, IndexError, ValueError):
            return False

    dtypes = ['f32', 'f32', 'f64', 'f16', 'bf16', 'i32', 'i64']
    for _ in range(24 * scale):  # binary broadcasting
        op = str(rng.choice(list(BINARY)))
        base = rshape(int(rng.integers(0, 5)), 0.05)
        sa, sb = [tuple(1 if rng.random() < 0.3 else d for d in base[int(rng.integers(0, len(base) + 1)):])
                  for _ in range(2)]
        da, db = str(rng.choice(dtypes)), str(rng.choice(dtypes))
        ga, gb = 'normal', 'normal'
        if op == 'pow':
            ga, gb = 'pos', ('int', 0, 4) if db in ('i32', 'i64') else 'unit'
        simple(op, [I('a', da, sa, ga), I('b', db, sb, gb)], BINARY[op], tag='fuzz')
    for _ in range(16 * scale):  # reductions
        op = str(rng.choice(['sum', 'mean', 'amax', 'amin']))
        rank = int(rng.integers(1, 5))
        shape = rshape(rank, 0.0 if op in ('amax', 'amin') else 0.05)
        k = int(rng.integers(0, rank + 1))
        dim = [int(d) - (rank if rng.random() < 0.5 else 0) for d in rng.permutation(rank)[:k]]
        keep = bool(rng.random() < 0.5)
        dt = str(rng.choice(['f32', 'f64', 'f16', 'bf16'] + ([] if op == 'mean' else ['i32', 'i64'])))
        fn = {'sum': torch.sum, 'mean': torch.mean, 'amax': torch.amax, 'amin': torch.amin}[op]
        simple(op, [I('x', dt, shape)],
               (lambda f, d, kp: lambda x: f(x, dim=tuple(d) if d else tuple(range(x.dim())), keepdim=kp))(
                   fn, dim, keep), {'dim': dim, 'keepdim': keep}, tag='fuzz')
    for _ in range(12 * scale):  # matmul ranks and batch broadcasting
        ra, rb = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        m, k, n = (int(rng.choice(sizes + [17])) for _ in range(3))
        batch = rshape(max(ra, rb) - 2 if max(ra, rb) > 2 else 0)
        sa = (tuple(1 if rng.random() < 0.3 else d for d in batch[len(batch) - max(ra - 2, 0):]) + (m, k))[-ra:] \
            if ra > 1 else (k,)
        sb = (tuple(1 if rng.random() < 0.3 else d for d in batch[len(batch) - max(rb - 2, 0):]) + (k, n))[-rb:] \
            if rb > 1 else (k,)
        if ra == 1 and rb > 1:
            sb = sb[:-2] + (k, n)
        dt = str(rng.choice(['f32', 'f64', 'f16', 'bf16']))
        if valid(torch.matmul, sa, sb):
            simple('matmul', [I('a', dt, sa), I('b', dt, sb)], torch.matmul, tag='fuzz')
    for _ in range(8 * scale):  # softmax / log_softmax
        op = str(rng.choice(['softmax', 'log_softmax']))
        shape = rshape(int(rng.integers(1, 5)))
        d = int(rng.integers(-len(shape), len(shape)))
        fn = F.softmax if op == 'softmax' else F.log_softmax
        simple(op, [I('x', str(rng.choice(['f32', 'f64', 'f16', 'bf16'])), shape)],
               (lambda f, d: lambda x: f(x, dim=d))(fn, d), {'dim': d}, tag='fuzz')
    for _ in range(6 * scale):  # permute
        shape = rshape(int(rng.integers(0, 6)))
        dims = [int(v) for v in rng.permutation(len(shape))]
        simple('permute', [I('x', str(rng.choice(dtypes + ['bool'])), shape)],
               (lambda d: lambda x: x.permute(*d).clone() if d else x.clone())(dims), {'dims': dims}, tag='fuzz')
    for _ in range(8 * scale):  # slice
        shape = rshape(int(rng.integers(1, 4)))
        dim = int(rng.integers(-len(shape), len(shape)))
        st, en = (int(rng.integers(-9, 10)) for _ in range(2))
        step = int(rng.integers(1, 4))

        def sl(x, dim=dim, st=st, en=en, step=step):
            d = dim % x.dim()
            return x[(slice(None),) * d + (slice(st, en, step),)].clone()
        simple('slice', [I('x', str(rng.choice(dtypes)), shape)], sl,
               {'dim': dim, 'start': st, 'end': en, 'step': step}, tag='fuzz')
    for _ in range(10 * scale):  # conv2d geometry
        g = int(rng.choice([1, 1, 2, 3]))
        cin, cout = g * int(rng.integers(1, 3)), g * int(rng.integers(1, 3))
        kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        xs = (int(rng.integers(1, 3)), cin, int(rng.integers(1, 10)), int(rng.integers(1, 10)))
        attrs = {'stride': [int(rng.integers(1, 4)), int(rng.integers(1, 4))],
                 'padding': [int(rng.integers(0, 3)), int(rng.integers(0, 3))],
                 'dilation': [int(rng.integers(1, 3)), int(rng.integers(1, 3))], 'groups': g}
        ws = (cout, cin // g, kh, kw)
        fn = (lambda a: lambda x, w, b=None: F.conv2d(x, w, b, **a))(attrs)
        dt = str(rng.choice(['f32', 'f64', 'f16', 'bf16']))
        if valid(fn, xs, ws):
            simple('conv2d', [I('x', dt, xs), I('w', dt, ws), I('b', dt, (cout,))], fn, attrs, tag='fuzz')
    for _ in range(16 * scale):  # pooling geometry
        op = str(rng.choice(['max_pool2d', 'avg_pool2d']))
        kh, kw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        xs = (int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(1, 12)), int(rng.integers(1, 12)))
        attrs = {'kernel_size': [kh, kw], 'stride': [int(rng.integers(1, 4)), int(rng.integers(1, 4))],
                 'padding': [int(rng.integers(0, kh // 2 + 1)), int(rng.integers(0, kw // 2 + 1))],
                 'ceil_mode': bool(rng.random() < 0.5)}
        if op == 'max_pool2d':
            attrs['dilation'] = [int(rng.integers(1, 3)), int(rng.integers(1, 3))]
            fn = (lambda a: lambda x: F.max_pool2d(x, a['kernel_size'], a['stride'], a['padding'], a['dilation'],
                                                   ceil_mode=a['ceil_mode']))(attrs)
        else:
            attrs['count_include_pad'] = bool(rng.random() < 0.5)
            fn = (lambda a: lambda x: F.avg_pool2d(x, a['kernel_size'], a['stride'], a['padding'],
                                                   ceil_mode=a['ceil_mode'],
                                                   count_include_pad=a['count_include_pad']))(attrs)
        dt = str(rng.choice(['f32', 'f64', 'f16', 'bf16']))
        if valid(fn, xs):
            simple(op, [I('x', dt, xs)], fn, attrs, tag='fuzz', out_dtypes=[dt])
    for _ in range(4 * scale):  # adaptive pooling to any output size
        xs = (int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(1, 14)), int(rng.integers(1, 14)))
        osz = [int(rng.integers(1, 9)), int(rng.integers(1, 9))]
        dt = str(rng.choice(['f32', 'f64', 'f16', 'bf16']))
        simple('adaptive_avg_pool2d', [I('x', dt, xs)], (lambda o: lambda x: F.adaptive_avg_pool2d(x, o))(osz),
               {'output_size': osz}, tag='fuzz', out_dtypes=[dt])


# ---- negative cases --------------------------------------------------------------

def add_negative_cases():
    f = lambda n, s, dt='f32': I(n, dt, s)
    neg_case('add-shape-mismatch', node('add', ['a', 'b']), [f('a', (3,)), f('b', (4,))], r'broadcast')
    neg_case('matmul-contraction', node('matmul', ['a', 'b']), [f('a', (3, 4)), f('b', (5, 6))], r'contraction|match')
    neg_case('unknown-op', node('frobnicate', ['a']), [f('a', (3,))], r"unknown op 'frobnicate'")
    neg_case('where-float-cond', node('where', ['c', 'a', 'a']), [f('c', (3,)), f('a', (3,))], r'bool')
    neg_case('reshape-count', node('reshape', ['a'], {'shape': [5]}), [f('a', (3, 4))], r'reshape')
    neg_case('unknown-attr', node('sum', ['a'], {'axis': [0]}), [f('a', (3, 4))], r"no attribute 'axis'")
    neg_case('parse-error', '  %r = add(a, a', [f('a', (3,))], r'expected')
    neg_case('undefined-value', node('add', ['a', '%nope']), [f('a', (3,))], r'undefined')
    neg_case('sub-bool', node('sub', ['a', 'a']), [f('a', (3,), 'bool')], r'bool')
    neg_case('neg-bool', node('neg', ['a']), [f('a', (3,), 'bool')], r'bool')
    neg_case('pow-bool', node('pow', ['a', 'a']), [f('a', (3,), 'bool')], r'bool')
    neg_case('conv-channels', node('conv2d', ['x', 'w']), [f('x', (1, 3, 5, 5)), f('w', (2, 4, 3, 3))],
             r'conv2d|channel|weight')
    neg_case('cat-rank', node('cat', ['a', 'b'], {'dim': 0}), [f('a', (3, 4)), f('b', (3,))], r'rank')
    neg_case('amax-empty', node('amax', ['a'], {'dim': [0]}), [f('a', (0, 3))], r'size 0|identity')
    neg_case('permute-repeat', node('permute', ['a'], {'dims': [0, 0]}), [f('a', (3, 4))], r'repeat|more than once')
    neg_case('mean-int', node('mean', ['a']), [f('a', (3,), 'i32')], r'float')
    neg_case('split-sizes', node('split', ['a'], {'dim': 0, 'sizes': [1, 1]}, ('r', 's')), [f('a', (3,))], r'sum')
    neg_case('squeeze-dim-range', node('squeeze', ['a'], {'dim': [5]}), [f('a', (3, 1))], r'range')
    neg_case('sdpa-k-dim', node('scaled_dot_product_attention', ['q', 'k', 'v']),
             [f('q', (1, 2, 3, 4)), f('k', (1, 2, 5, 3)), f('v', (1, 2, 5, 4))], r'D|last dim')
    neg_case('dropout-p', node('dropout', ['a', 's'], {'p': 1.5}), [f('a', (3,)), I('s', 'i64', ())], r'between 0 and 1')
    neg_case('cross-entropy-target-dtype', node('cross_entropy', ['x', 't']),
             [f('x', (3, 4)), I('t', 'i32', (3,))], r'i64')
    neg_case('gelu-approx', node('gelu', ['a'], {'approximate': 'fast'}), [f('a', (3,))], r'approximate')
    neg_case('region-type', '\n'.join(['  %r = call(a) region(p: f32[4]) {', '    return p', '  }']),
             [f('a', (3,))], r'expects|region')
    # run-time errors: data-dependent
    neg_case('index-select-range', node('index_select', ['a', 'i'], {'dim': 0}),
             [f('a', (3, 2)), I('i', 'i64', (2,), lambda r, s: np.array([1, 7]))], r'out of range')
    neg_case('gather-range', node('gather', ['a', 'i'], {'dim': 1}),
             [f('a', (3, 2)), I('i', 'i64', (3, 2), lambda r, s: np.full(s, -1))], r'out of range')
    neg_case('embedding-range', node('embedding', ['i', 'w']),
             [I('i', 'i64', (2,), lambda r, s: np.array([0, 4])), f('w', (4, 3))], r'out of range')
    neg_case('cross-entropy-target-range', node('cross_entropy', ['x', 't']),
             [f('x', (3, 4)), I('t', 'i64', (3,), lambda r, s: np.array([0, 4, 1]))], r'out of range')
    # bad inputs on the command line
    neg_case('full-f16-overflow', node('full', [], {'shape': [2], 'value': 65520.0, 'dtype': 'f16'}), [],
             r'overflow')
    neg_case('reshape-empty-infer', node('reshape', ['a'], {'shape': [-1, 0]}), [f('a', (0, 3))], r'reshape|-1')
    neg_case('expand-new-dim-minus-one', node('expand', ['a'], {'shape': [-1, 2, 4]}), [f('a', (3, 1))],
             r'expand')
    neg_case('max-pool-padding', node('max_pool2d', ['a'], {'kernel_size': [2, 2], 'padding': [2, 2]}),
             [f('a', (1, 1, 5, 5))], r'half')
    neg_case('avg-pool-padding', node('avg_pool2d', ['a'], {'kernel_size': [2, 2], 'padding': [2, 2]}),
             [f('a', (1, 1, 5, 5))], r'half')
    neg_case('slice-step-0', node('slice', ['a'], {'dim': 0, 'step': 0}), [f('a', (3,))], r'step')
    neg_case('layer-norm-shape', node('layer_norm', ['a'], {'normalized_shape': [3]}), [f('a', (3, 4))],
             r'normalized_shape')
    neg_case('item-two-elements', node('item', ['a']), [I('a', 'i64', (2,))], r'one element')
    neg_case('linear-k', node('linear', ['x', 'w']), [f('x', (3, 4)), f('w', (2, 5))], r'weight')
    neg_case('index-select-float-index', node('index_select', ['a', 'i'], {'dim': 0}),
             [f('a', (3, 2)), f('i', (2,))], r'i32 or i64')
    neg_case('conv2d-int', node('conv2d', ['x', 'w']), [I('x', 'i64', (1, 1, 3, 3)), I('w', 'i64', (1, 1, 2, 2))],
             r'float')
    neg_case('avg-pool-i32', node('avg_pool2d', ['x'], {'kernel_size': [2, 2]}), [I('x', 'i32', (1, 1, 4, 4))],
             r'avg_pool2d')
    neg_case('adaptive-avg-pool-int', node('adaptive_avg_pool2d', ['x'], {'output_size': [2, 2]}),
             [I('x', 'i64', (1, 1, 4, 4))], r'float')
    neg_case('arange-bool', node('arange', [], {'end': [4], 'dtype': 'bool'}), [], r'bool')
    neg_case('sdpa-mask-dtype', node('scaled_dot_product_attention', ['q', 'k', 'v', 'm'], {'has_mask': True}),
             [f('q', (1, 2, 3, 4), 'f16'), f('k', (1, 2, 5, 4), 'f16'), f('v', (1, 2, 5, 4), 'f16'),
              f('m', (3, 5))], r'mask')
    neg_case('sdpa-score-fn-rank3', '\n'.join([
        '  %r = scaled_dot_product_attention(q, k, v) region(s: f32[2, 3, 5], b: i64[2, 1, 1], '
        'qi: i64[1, 3, 1], ki: i64[1, 1, 5]) {', '    return s', '  }']),
        [f('q', (2, 3, 4)), f('k', (2, 5, 4)), f('v', (2, 5, 4))], r'rank')
    c = neg_case('reshape-symbolic-divisor', node('reshape', ['x'], {'shape': ['B', -1]}),
                 [f('a', (2,)), f('b', (3,)), f('x', (6, 4))], r'reshape|-1')
    c.decls = ['a: f32[B] input', 'b: f32[S] input', 'x: f32[B*S, 4] input']
    # ... while writing the shape out is fine
    c = add_case(Case('sym[reshape-written-out]/f32/B,S,B*Sx4', ['reshape'],
                      node('reshape', ['x'], {'shape': ['B', 'S*4']}), [f('a', (2,)), f('b', (3,)), f('x', (6, 4))],
                      lambda a, b, x: x.reshape(2, 12)))
    c.decls = ['a: f32[B] input', 'b: f32[S] input', 'x: f32[B*S, 4] input']
    neg_case('input-wrong-dtype', node('neg', ['a']), [f('a', (3,))], r'expected f32|holds f64',
             npy={'a': np.ones(3, np.float64)})
    neg_case('input-wrong-shape', node('neg', ['a']), [f('a', (3,))], r"input|dim",
             npy={'a': np.ones((4,), np.float32)})
    neg_case('unknown-backend', node('neg', ['a']), [f('a', (3,))], r'not available', args=('--backend', 'nope'))
    neg_case('input-missing', node('neg', ['a']), [f('a', (3,))], r'not given', npy={'a': None})


# --------------------------------------------------------------------------
# Running and comparing
# --------------------------------------------------------------------------

def as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def promote_floats(ts):
    dt = None
    for t in ts:
        if t.is_floating_point():
            dt = t.dtype if dt is None else torch.promote_types(dt, t.dtype)
    return dt


def reference(c, ts):
    """Expected outputs as torch tensors of the expected dtype."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        native = None
        try:
            native = as_tuple(c.ref(*ts))
        except RuntimeError:
            pass  # e.g. "not implemented for 'Half'" on CPU: the float64 run below decides
        hin = ts
        if c.promote:
            rdt = native[0].dtype if native is not None else promote_floats(ts)
            if native is not None and not rdt.is_floating_point:  # comparisons: compute dtype
                rdt = promote_floats(ts)
            if rdt is not None and rdt.is_floating_point:
                hin = [t.to(rdt) if t.is_floating_point() else t for t in ts]
        hi = as_tuple(c.ref(*[t.double() if t.is_floating_point() else t for t in hin]))
    out = []
    for k, h in enumerate(hi):
        if c.out_dtypes:
            dt = TORCH_DT[c.out_dtypes[k]]
        elif native is not None:
            dt = native[k].dtype
        elif h.is_floating_point():
            dt = promote_floats(ts) or h.dtype
        else:
            dt = h.dtype
        if dt.is_floating_point and h.is_floating_point():
            out.append(h.to(dt))
        elif native is not None:
            out.append(native[k].to(dt))
        else:
            out.append(h.to(dt))
    return out


class Result:
    def __init__(self, case):
        self.case = case
        self.status = 'pass'       # pass, fail, skip
        self.msgs = []
        self.errs = {}             # dtype -> [max abs, max rel, elements compared]
        self.seconds = 0.0

    def fail(self, msg):
        self.status = 'fail'
        self.msgs.append(msg)


def compare(res, name, got, want):
    dtn = DT_NAME[want.dtype]
    if got.dtype != FILE_DT[dtn]:
        res.fail('%s: file dtype %s, expected %s (result dtype %s)' % (name, got.dtype.str, FILE_DT[dtn].str, dtn))
        return
    if tuple(got.shape) != tuple(want.shape):
        res.fail('%s: shape %s, expected %s' % (name, tuple(got.shape), tuple(want.shape)))
        return
    e = res.errs.setdefault(dtn, [0.0, 0.0, 0])
    e[2] += got.size
    if dtn in FLOATS:
        w = want.double().numpy()
        g = got.astype(np.float64)
        if dtn == 'bf16':
            rt = torch.from_numpy(got.astype(np.float32)).bfloat16().float().numpy().astype(np.float64)
            notbf = ~((rt == g) | (np.isnan(rt) & np.isnan(g)))
            if notbf.any():
                res.fail('%s: %d values are not bf16-representable (e.g. %r)' % (
                    name, int(notbf.sum()), float(g[notbf][0])))
        rtol, atol = TOL[dtn]
        rtol, atol = rtol * res.case.tol_scale, atol * res.case.tol_scale
        nan_g, nan_w = np.isnan(g), np.isnan(w)
        if (nan_g != nan_w).any():
            idx = np.argwhere(nan_g != nan_w)[0]
            res.fail('%s: NaN positions differ (%d elements), first at %s: got %r, expected %r' % (
                name, int((nan_g != nan_w).sum()), tuple(int(i) for i in idx), g[tuple(idx)], w[tuple(idx)]))
        fin = ~nan_g & ~nan_w
        inf_bad = fin & (np.isinf(g) | np.isinf(w)) & (g != w)
        if inf_bad.any():
            idx = np.argwhere(inf_bad)[0]
            res.fail('%s: infinities differ at %s: got %r, expected %r' % (
                name, tuple(int(i) for i in idx), g[tuple(idx)], w[tuple(idx)]))
        ok = fin & ~np.isinf(g) & ~np.isinf(w)
        if ok.any():
            with np.errstate(invalid='ignore'):
                d = np.where(ok, np.abs(g - w), 0.0)
            rel = np.where(ok & (np.abs(w) > atol), d / np.maximum(np.abs(w), 1e-300), 0.0)
            e[0] = max(e[0], float(d.max()))
            e[1] = max(e[1], float(rel.max()))
            bad = ok & (d > atol + rtol * np.abs(w))
            if bad.any():
                idx = np.argwhere(bad)[0]
                res.fail('%s: %d of %d values off (rtol %g, atol %g); max abs err %.3g, max rel err %.3g; '
                         'first at %s: got %r, expected %r' % (
                             name, int(bad.sum()), got.size, rtol, atol, float(d.max()), float(rel.max()),
                             tuple(int(i) for i in idx), g[tuple(idx)], w[tuple(idx)]))
    else:
        w = want.numpy()
        neq = got != w
        if neq.any():
            e[0] = max(e[0], float(np.max(np.abs(got.astype(np.float64) - w.astype(np.float64)))))
            idx = np.argwhere(neq)[0] if got.ndim else ()
            res.fail('%s: %d of %d values differ (exact compare); first at %s: got %r, expected %r' % (
                name, int(neq.sum()), got.size, tuple(int(i) for i in idx), got[tuple(idx)], w[tuple(idx)]))


def graph_text(c):
    if getattr(c, 'decls', None):
        return 'graph t(%s) {\n%s\n  return %s\n}\n' % (', '.join(c.decls), c.body.rstrip('\n'),
                                                       ', '.join('%' + o for o in c.outs))
    return c.text()


def unsupported_op(c, p):
    """The op a compiled backend refused as documented-unsupported, else None."""
    if OPTS['backend'] == 'interp' or p.returncode != 1:
        return None
    if not re.search(r'UNIMPLEMENTED|not supported', p.stderr):
        return None
    for op in UNSUPPORTED_COMPILED:
        if op in c.ops and re.search(r'\b%s\b' % op, p.stderr):
            return op
    return None


def run_case(c, seed, keep):
    res = Result(c)
    t0 = time.time()
    if c.skip:
        res.status = 'skip'
        res.msgs.append(c.skip)
        return res
    rng = np.random.default_rng([seed, zlib.crc32(c.name.encode())])
    ts = [i.make(rng) for i in c.inputs]
    d = tempfile.mkdtemp(prefix='gc_torch_')
    try:
        text = graph_text(c)
        gc = os.path.join(d, 'case.gc')
        with open(gc, 'w') as fh:
            fh.write(text)
        cmd = [GRAPHC, 'run', gc]
        if OPTS['backend'] != 'interp' and '--backend' not in c.args:
            cmd += ['--backend', OPTS['backend']]
        override = getattr(c, 'npy_override', {})
        for inp, t in zip(c.inputs, ts):
            p = os.path.join(d, 'in_%s.npy' % inp.name)
            if inp.name in override:
                if override[inp.name] is None:
                    continue
                np.save(p, override[inp.name])
            else:
                write_npy(p, t)
            cmd += ['--in', '%s=%s' % (inp.name, p)]
        outdir = os.path.join(d, 'out')
        cmd += list(c.args) + ['--out', outdir]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired:
            res.fail('graphc timed out after 120 s')
            return res
        except OSError as e:  # e.g. the binary is being relinked
            res.fail('cannot run %s: %s' % (GRAPHC, e))
            return res
        lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
        unsup = unsupported_op(c, p)
        if unsup:
            res.status = 'skip'
            res.msgs.append('not supported by the %s backend: %s' % (OPTS['backend'], unsup))
            return res
        if p.returncode < 0 or p.returncode >= 128:
            res.fail('graphc crashed (exit %d, signal?): %s' % (p.returncode, p.stderr.strip()[-500:]))
        elif c.error is not None:
            if p.returncode != 1:
                res.fail('expected exit 1 (rejected), got %d; stderr: %r' % (p.returncode, p.stderr[-300:]))
            elif len(lines) != 1:
                res.fail('expected one line on stderr, got %d: %r' % (len(lines), p.stderr[-500:]))
            elif not re.search(c.error, lines[0]):
                res.fail('stderr %r does not match /%s/' % (lines[0], c.error))
        elif p.returncode != 0:
            res.fail('graphc exit %d: %s' % (p.returncode, p.stderr.strip()[-800:]))
        else:
            got = []
            for o in c.outs:
                path = os.path.join(outdir, o + '.npy')
                if not os.path.exists(path):
                    res.fail('no output file %s.npy' % o)
                    return res
                got.append(np.load(path))
            if c.check is not None:
                for m in c.check(got, ts):
                    res.fail(m)
            if c.ref is not None:
                try:
                    want = reference(c, ts)
                except Skip as e:
                    res.status = 'skip'
                    res.msgs.append(str(e))
                    return res
                if len(want) != len(got):
                    res.fail('reference has %d results, graph %d' % (len(want), len(got)))
                else:
                    for o, g, w in zip(c.outs, got, want):
                        compare(res, o, g, w)
        if res.status == 'fail':
            res.msgs.append('graph:\n    ' + text.rstrip().replace('\n', '\n    '))
            if keep:
                res.msgs.append('kept in %s' % d)
                d = None
    except Exception as e:  # a harness or reference bug: report, never hide
        import traceback
        res.fail('harness error: %s: %s\n%s' % (type(e).__name__, e, traceback.format_exc(limit=3)))
    finally:
        if d:
            shutil.rmtree(d, ignore_errors=True)
        res.seconds = time.time() - t0
    return res


def doc_ops():
    ops = []
    with open(OPS_MD) as fh:
        for line in fh:
            m = re.match(r'\|\s*`([^`]+)`\s*\|', line)
            if m:
                ops += m.group(1).split()
    return ops


def build_cases(seed):
    add_unary_cases()
    add_binary_cases()
    add_where_cast_cases()
    add_reduce_cases()
    add_dropout_cases()
    add_linalg_cases()
    add_shape_cases()
    add_index_cases()
    add_create_cases()
    add_region_cases()
    add_sdpa_cases()
    add_grad_cases()
    add_symbolic_cases()
    add_fuzz_cases(seed)
    add_negative_cases()
    # Known libgraphc disagreements with PyTorch (reported to the op owners).
    for name, reason in XFAIL.items():
        hits = [c for c in CASES if c.name == name]
        for c in hits:
            c.xfail = reason


# case name -> reason. These still count as failures; remove once fixed.
XFAIL = {
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('-k', action='append', default=[], metavar='SUBSTRING',
                    help='run only cases whose name contains SUBSTRING (repeatable: any)')
    ap.add_argument('-j', type=int, default=2, metavar='N', help='parallel cases (default 2)')
    ap.add_argument('-v', action='store_true', help='print every case')
    ap.add_argument('--list', action='store_true', help='list the case names and exit')
    ap.add_argument('--backend', default='interp', metavar='NAME',
                    help='graphc run --backend NAME for every case: interp (default), cpu, cpu-eval')
    args = ap.parse_args()
    OPTS['backend'] = args.backend

    torch.set_num_threads(1)
    env_seed = os.environ.get('GRAPHC_TEST_SEED')
    seed = int(env_seed) if env_seed else int.from_bytes(os.urandom(4), 'little')
    build_cases(seed)
    cases = [c for c in CASES if not args.k or any(k in c.name for k in args.k)]
    if args.list:
        for c in cases:
            print(c.name)
        return 0
    print('seed %d (GRAPHC_TEST_SEED=%d reproduces); graphc: %s --backend %s; torch %s' % (
        seed, seed, GRAPHC, args.backend, torch.__version__))
    sys.stdout.flush()
    if not os.access(GRAPHC, os.X_OK):
        print('graphc binary %s not found or not executable (set GRAPHC_BIN)' % GRAPHC)
        print('0 passed, %d failed' % len(cases))
        return 1
    keep = bool(os.environ.get('GRAPHC_TEST_KEEP'))
    t0 = time.time()
    lock = threading.Lock()
    results = []

    def report(r):
        c = r.case
        with lock:
            results.append(r)
            if r.status == 'fail':
                tag = 'FAIL (xfail: %s)' % c.xfail if c.xfail else 'FAIL'
                print('%s %s' % (tag, c.name))
                for m in r.msgs:
                    print('    ' + m.replace('\n', '\n    '))
            elif r.status == 'skip':
                print('SKIP %s: %s' % (c.name, '; '.join(r.msgs)))
            elif c.xfail:
                print('XPASS %s (marked xfail: %s) -- remove the marker' % (c.name, c.xfail))
            elif args.v:
                errs = ', '.join('%s abs %.2g rel %.2g' % (dt, e[0], e[1]) for dt, e in sorted(r.errs.items()))
                print('ok   %s (%.2fs)%s' % (c.name, r.seconds, ': ' + errs if errs else ''))
            sys.stdout.flush()

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.j)) as ex:
        futs = [ex.submit(run_case, c, seed, keep) for c in cases]
        for f in concurrent.futures.as_completed(futs):
            report(f.result())

    elapsed = time.time() - t0
    npass = sum(r.status == 'pass' for r in results)
    nfail = sum(r.status == 'fail' for r in results)
    nskip = sum(r.status == 'skip' for r in results)
    print('\nworst error per result dtype (over all compared outputs):')
    agg = {}
    for r in results:
        for dt, (a, rel, n) in r.errs.items():
            g = agg.setdefault(dt, [0.0, '', 0.0, '', 0])
            if a >= g[0]:
                g[0], g[1] = a, r.case.name
            if rel >= g[2]:
                g[2], g[3] = rel, r.case.name
            g[4] += n
    for dt in ('f64', 'f32', 'f16', 'bf16', 'i32', 'i64', 'bool'):
        if dt in agg:
            a, an, rel, rn, n = agg[dt]
            rtol, atol = TOL[dt]
            if dt in FLOATS and a == 0 and rel == 0:
                print('  %-4s all %d values exact; tol rtol %g atol %g' % (dt, n, rtol, atol))
            elif dt in FLOATS:
                print('  %-4s max abs %.3g (%s), max rel %.3g (%s); %d values; tol rtol %g atol %g' % (
                    dt, a, an, rel, rn, n, rtol, atol))
            else:
                print('  %-4s max abs %.3g; %d values; exact' % (dt, a, n))
    documented = doc_ops()
    covered = sorted({op for c in cases for op in c.ops if op in documented})
    missing = [op for op in documented if op not in covered]
    if args.k:
        print('ops covered: %d of %d in docs/ops.md (subset run)' % (len(covered), len(documented)))
    else:
        print('ops covered: %d of %d in docs/ops.md%s' % (len(covered), len(documented),
                                                         '' if not missing else ' (not covered: %s)' % ' '.join(missing)))
    if missing and not args.k:
        nfail += 1
        print('FAIL coverage: ops without a case: %s' % ' '.join(missing))
    nneg = sum(c.error is not None for c in cases)
    nx = sum(1 for r in results if r.status == 'fail' and r.case.xfail)
    print('cases: %d (%d negative), %.1f s with -j %d%s' % (
        len(cases), nneg, elapsed, args.j, '; %d known failures (xfail)' % nx if nx else ''))
    line = '%d passed, %d failed' % (npass, nfail)
    if nskip:
        line += ', %d skipped' % nskip
    print(line)
    return 1 if nfail else 0


if __name__ == '__main__':
    sys.exit(main())
