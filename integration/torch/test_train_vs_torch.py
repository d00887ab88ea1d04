#!/usr/bin/python3
"""Whole models trained with `graphc train` (step graphs run by the
reference interpreter) against PyTorch eager with torch.optim, from the same
initial weights on the same data, step by step.

    /usr/bin/python3 integration/torch/test_train_vs_torch.py [-k SUBSTRING]... [-v]
        [--backend interp|cpu|cpu-eval]

--backend (default interp) is passed to `graphc train`: with cpu the step
graph is compiled once (graphc_compile) and every step runs compiled code.

Environment:
    GRAPHC_BIN        the graphc binary (default /work/main/build/tools/graphc)
    GRAPHC_TEST_SEED  the master seed; a fresh one is drawn (and printed) when unset

Models (f32, small so the interpreter is quick):
    mlp            linear/relu/linear, cross_entropy; SGD with momentum
    mlp_ckpt_sgd   the hidden layer in a checkpoint region; SGD Nesterov + weight decay
    mlp_adam       Adam with (L2) weight decay, label smoothing
    cnn            conv2d/relu/max_pool2d/linear; AdamW
    transformer    embedding, two pre-norm encoder blocks with causal attention
                   and a tanh-GELU MLP, final layer norm, cross_entropy; AdamW

For every model the loss of every step and every final param must agree
within REL (relative to the loss, and to the largest element of each param);
the worst difference is printed per model. Last line: "N passed, N failed".
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zlib

import numpy as np
import torch
import torch.nn.functional as F

GRAPHC = os.environ.get('GRAPHC_BIN', '/work/main/build/tools/graphc')
STEPS = 20
REL = 1e-4


class Model:
    """text: the .gc forward graph; params: name -> shape; data(rng) ->
    {input name: array}; forward(p, d) -> torch loss; opt: (name, kwargs)."""

    def __init__(self, name, text, params, data, forward, opt, init=None):
        self.name, self.text, self.params, self.data, self.forward = name, text, params, data, forward
        self.opt, self.init = opt, init or {}


def uniform_init(rng, shape):
    fan = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
    b = 1.0 / np.sqrt(fan)
    return rng.uniform(-b, b, shape)


# ---- models -------------------------------------------------------------------------

MLP_TEXT = """graph mlp(x: f32[B, 20] input, target: i64[B] input, w1: f32[32, 20] param,
          b1: f32[32] param, w2: f32[5, 32] param, b2: f32[5] param) {
  %h = linear(x, w1, b1)
  %a = relu(%h)
  %logits = linear(%a, w2, b2)
  %loss = cross_entropy(%logits, target{CE})
  return %loss
}
"""
MLP_CKPT_TEXT = """graph mlp_ckpt(x: f32[B, 20] input, target: i64[B] input, w1: f32[32, 20] param,
          b1: f32[32] param, w2: f32[5, 32] param, b2: f32[5] param) {
  %a = checkpoint(x, w1, b1) region(xi: f32[B, 20], wi: f32[32, 20], bi: f32[32]) {
    %h = linear(xi, wi, bi)
    %r = relu(%h)
    return %r
  }
  %logits = linear(%a, w2, b2)
  %loss = cross_entropy(%logits, target)
  return %loss
}
"""
MLP_PARAMS = {'w1': (32, 20), 'b1': (32,), 'w2': (5, 32), 'b2': (5,)}


def mlp_data(rng):
    return {'x': rng.standard_normal((16, 20)), 'target': rng.integers(0, 5, 16)}


def mlp_forward(p, d, smoothing=0.0):
    h = F.relu(F.linear(d['x'], p['w1'], p['b1']))
    return F.cross_entropy(F.linear(h, p['w2'], p['b2']), d['target'], label_smoothing=smoothing)


CNN_TEXT = """graph cnn(x: f32[N, 1, 8, 8] input, target: i64[N] input, conv_w: f32[4, 1, 3, 3] param,
          conv_b: f32[4] param, fc_w: f32[10, 64] param, fc_b: f32[10] param) {
  %c = conv2d(x, conv_w, conv_b, padding=[1, 1])
  %r = relu(%c)
  %p = max_pool2d(%r, kernel_size=[2, 2])
  %flat = reshape(%p, shape=[N, 64])
  %logits = linear(%flat, fc_w, fc_b)
  %loss = cross_entropy(%logits, target)
  return %loss
}
"""
CNN_PARAMS = {'conv_w': (4, 1, 3, 3), 'conv_b': (4,), 'fc_w': (10, 64), 'fc_b': (10,)}


def cnn_forward(p, d):
    h = F.max_pool2d(F.relu(F.conv2d(d['x'], p['conv_w'], p['conv_b'], padding=1)), 2)
    return F.cross_entropy(F.linear(h.reshape(h.shape[0], 64), p['fc_w'], p['fc_b']), d['target'])


D, H, HD, FF, V, S = 16, 2, 8, 32, 11, 6


def block_text(i):
    return """  # block {i}
  %h{i} = layer_norm(%x{i}, ln1_w{i}, ln1_b{i}, normalized_shape=[16])
  %q{i} = linear(%h{i}, wq{i})
  %k{i} = linear(%h{i}, wk{i})
  %v{i} = linear(%h{i}, wv{i})
  %q4{i} = reshape(%q{i}, shape=[B, 6, 2, 8])
  %k4{i} = reshape(%k{i}, shape=[B, 6, 2, 8])
  %v4{i} = reshape(%v{i}, shape=[B, 6, 2, 8])
  %qh{i} = permute(%q4{i}, dims=[0, 2, 1, 3])
  %kh{i} = permute(%k4{i}, dims=[0, 2, 1, 3])
  %vh{i} = permute(%v4{i}, dims=[0, 2, 1, 3])
  %att{i} = scaled_dot_product_attention(%qh{i}, %kh{i}, %vh{i}, causal=true)
  %att_t{i} = transpose(%att{i}, dim0=1, dim1=2)
  %att_m{i} = reshape(%att_t{i}, shape=[B, 6, 16])
  %o{i} = linear(%att_m{i}, wo{i})
  %r{i} = add(%x{i}, %o{i})
  %h2{i} = layer_norm(%r{i}, ln2_w{i}, ln2_b{i}, normalized_shape=[16])
  %f1{i} = linear(%h2{i}, fc1_w{i}, fc1_b{i})
  %g{i} = gelu(%f1{i}, approximate=tanh)
  %f2{i} = linear(%g{i}, fc2_w{i}, fc2_b{i})
  %x{n} = add(%r{i}, %f2{i})
""".format(i=i, n=i + 1)


def block_params(i):
    return {'ln1_w%d' % i: (D,), 'ln1_b%d' % i: (D,), 'wq%d' % i: (D, D), 'wk%d' % i: (D, D),
            'wv%d' % i: (D, D), 'wo%d' % i: (D, D), 'ln2_w%d' % i: (D,), 'ln2_b%d' % i: (D,),
            'fc1_w%d' % i: (FF, D), 'fc1_b%d' % i: (FF,), 'fc2_w%d' % i: (D, FF), 'fc2_b%d' % i: (D,)}


TR_PARAMS = {'emb': (V, D)}
for _i in range(2):
    TR_PARAMS.update(block_params(_i))
TR_PARAMS.update({'lnf_w': (D,), 'lnf_b': (D,), 'head': (V, D)})
TR_TEXT = ('graph transformer(tokens: i64[B, 6] input, target: i64[B*6] input,\n    ' +
           ',\n    '.join('%s: f32[%s] param' % (n, ', '.join(map(str, s))) for n, s in TR_PARAMS.items()) +
           ') {\n  %x0 = embedding(tokens, emb)\n' + block_text(0) + block_text(1) +
           '  %hf = layer_norm(%x2, lnf_w, lnf_b, normalized_shape=[16])\n'
           '  %logits = linear(%hf, head)\n'
           '  %flat = reshape(%logits, shape=[B*6, 11])\n'
           '  %loss = cross_entropy(%flat, target)\n  return %loss\n}\n')


def tr_init():
    init = {}
    for n, s in TR_PARAMS.items():
        if n.startswith(('ln1_w', 'ln2_w', 'lnf_w')):
            init[n] = lambda rng, s=s: 1.0 + 0.1 * rng.standard_normal(s)
        elif n.startswith(('ln', 'fc1_b', 'fc2_b')):
            init[n] = lambda rng, s=s: 0.1 * rng.standard_normal(s)
        elif n == 'emb':
            init[n] = lambda rng, s=s: rng.standard_normal(s)
    return init


def tr_data(rng):
    toks = rng.integers(0, V, (2, S))
    return {'tokens': toks, 'target': np.roll(toks, -1, axis=1).reshape(-1)}


def causal_attention(q, k, v):
    s = q @ k.transpose(-2, -1) * (q.shape[-1] ** -0.5)
    n = s.shape[-1]
    s = s.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float('-inf'))
    return torch.softmax(s, -1) @ v


def tr_forward(p, d):
    x = F.embedding(d['tokens'], p['emb'])
    b = x.shape[0]
    for i in range(2):
        g = lambda n: p['%s%d' % (n, i)]
        h = F.layer_norm(x, (D,), g('ln1_w'), g('ln1_b'))
        heads = [F.linear(h, g(w)).reshape(b, S, H, HD).permute(0, 2, 1, 3) for w in ('wq', 'wk', 'wv')]
        att = causal_attention(*heads).transpose(1, 2).reshape(b, S, D)
        r = x + F.linear(att, g('wo'))
        h2 = F.layer_norm(r, (D,), g('ln2_w'), g('ln2_b'))
        x = r + F.linear(F.gelu(F.linear(h2, g('fc1_w'), g('fc1_b')), approximate='tanh'), g('fc2_w'), g('fc2_b'))
    logits = F.linear(F.layer_norm(x, (D,), p['lnf_w'], p['lnf_b']), p['head'])
    return F.cross_entropy(logits.reshape(-1, V), d['target'])


MODELS = [
    Model('mlp', MLP_TEXT.replace('{CE}', ''), MLP_PARAMS, mlp_data, mlp_forward,
          ('sgd', {'lr': 0.1, 'momentum': 0.9})),
    Model('mlp_ckpt_sgd', MLP_CKPT_TEXT, MLP_PARAMS, mlp_data, mlp_forward,
          ('sgd', {'lr': 0.05, 'momentum': 0.8, 'nesterov': True, 'weight_decay': 0.01})),
    Model('mlp_adam', MLP_TEXT.replace('{CE}', ', label_smoothing=0.1'), MLP_PARAMS, mlp_data,
          lambda p, d: mlp_forward(p, d, 0.1), ('adam', {'lr': 0.01, 'weight_decay': 0.05})),
    Model('cnn', CNN_TEXT, CNN_PARAMS,
          lambda rng: {'x': rng.standard_normal((4, 1, 8, 8)), 'target': rng.integers(0, 10, 4)},
          cnn_forward, ('adamw', {'lr': 0.01, 'weight_decay': 0.01})),
    Model('transformer', TR_TEXT, TR_PARAMS, tr_data, tr_forward,
          ('adamw', {'lr': 0.005, 'weight_decay': 0.01, 'betas': (0.9, 0.98), 'eps': 1e-6}), tr_init()),
]


def graphc_args(opt):
    name, kw = opt
    args = ['--optimizer', name, '--lr', repr(kw['lr'])]
    for k, flag in (('momentum', '--momentum'), ('weight_decay', '--weight-decay'), ('eps', '--eps')):
        if k in kw:
            args += [flag, repr(kw[k])]
    if kw.get('nesterov'):
        args.append('--nesterov')
    if 'betas' in kw:
        args += ['--beta1', repr(kw['betas'][0]), '--beta2', repr(kw['betas'][1])]
    if name == 'adamw' and 'weight_decay' not in kw:
        args += ['--weight-decay', '0.01']
    return args


def torch_optimizer(opt, params):
    name, kw = opt
    cls = {'sgd': torch.optim.SGD, 'adam': torch.optim.Adam, 'adamw': torch.optim.AdamW}[name]
    return cls(params, foreach=False, **kw)


def run_model(m, seed, verbose, backend='interp'):
    rng = np.random.default_rng([seed, zlib.crc32(m.name.encode())])
    init = {n: np.asarray(m.init[n](rng) if n in m.init else uniform_init(rng, s), dtype=np.float32)
            for n, s in m.params.items()}
    data = {k: np.asarray(v, dtype=np.float32 if np.asarray(v).dtype.kind == 'f' else np.int64)
            for k, v in m.data(rng).items()}
    tmp = tempfile.mkdtemp(prefix='gctrain_')
    try:
        path = os.path.join(tmp, m.name + '.gc')
        with open(path, 'w') as f:
            f.write(m.text)
        args = [GRAPHC, 'train', path, '--steps', str(STEPS), '--params-out', os.path.join(tmp, 'out')]
        args += graphc_args(m.opt) + ['--backend', backend]
        for n, v in list(init.items()) + list(data.items()):
            np.save(os.path.join(tmp, n + '.npy'), v)
            args += ['--in', '%s=%s' % (n, os.path.join(tmp, n + '.npy'))]
        p = subprocess.run(args, capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            return ['graphc train exited %d: %s' % (p.returncode, p.stderr.strip())], {}
        losses = [float(l.split()[3]) for l in p.stdout.splitlines() if l.startswith('step ')]
        got = {n: np.load(os.path.join(tmp, 'out', n + '.npy')) for n in m.params}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    params = {n: torch.tensor(v, requires_grad=True) for n, v in init.items()}
    tdata = {k: torch.from_numpy(v) for k, v in data.items()}
    opt = torch_optimizer(m.opt, list(params.values()))
    want = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = m.forward(params, tdata)
        loss.backward()
        opt.step()
        want.append(loss.item())

    errs, worst = [], {'loss': 0.0, 'param': 0.0}
    if len(losses) != STEPS:
        return ['expected %d loss lines, got %d' % (STEPS, len(losses))], worst
    for i, (a, b) in enumerate(zip(losses, want)):
        e = abs(a - b) / max(abs(b), 1e-6)
        worst['loss'] = max(worst['loss'], e)
        if verbose:
            print('    step %2d  graphc %.9g  torch %.9g' % (i + 1, a, b))
        if e > REL:
            errs.append('step %d: loss %.9g, torch %.9g (rel %.3g)' % (i + 1, a, b, e))
    for n in m.params:
        b = params[n].detach().numpy()
        e = float(np.abs(got[n] - b).max() / max(np.abs(b).max(), 1e-6))
        worst['param'] = max(worst['param'], e)
        if e > REL:
            errs.append('param %s: max difference %.3g of its largest element' % (n, e))
    if abs(want[-1] - want[0]) < 1e-3 * abs(want[0]):
        errs.append('the loss did not move (%.6g -> %.6g): the comparison would be vacuous' % (want[0], want[-1]))
    return errs, worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('-k', action='append', default=[])
    ap.add_argument('-v', action='store_true')
    ap.add_argument('--backend', default='interp', choices=['interp', 'cpu', 'cpu-eval'])
    a = ap.parse_args()
    seed = int(os.environ.get('GRAPHC_TEST_SEED') or np.random.SeedSequence().entropy % (1 << 32))
    print('GRAPHC_TEST_SEED=%d (graphc: %s, backend %s)' % (seed, GRAPHC, a.backend))
    torch.set_num_threads(1)
    passed = failed = 0
    for m in MODELS:
        if a.k and not any(s in m.name for s in a.k):
            continue
        try:
            errs, worst = run_model(m, seed, a.v, a.backend)
        except Exception as e:  # report and go on with the other models
            errs, worst = ['%s: %s' % (type(e).__name__, e)], {}
        print('%-4s %-14s %d steps, worst relative difference: loss %.3g, params %.3g' % (
            'FAIL' if errs else 'ok', m.name, STEPS, worst.get('loss', float('nan')),
            worst.get('param', float('nan'))))
        for e in errs:
            print('    ' + e)
        if errs:
            failed += 1
        else:
            passed += 1
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
