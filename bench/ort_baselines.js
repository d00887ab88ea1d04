// ONNX Runtime (npm onnxruntime-node, CPU) baselines for bench/run.sh.
// usage: node ort_baselines.js MODEL_DIR [--only gelu,mlp,encoder]
// (models from torch_baselines.py --onnx-dir MODEL_DIR)
// Sessions: intraOpNumThreads 2, graphOptimizationLevel 'all'. Prints
// "KV ort_<model>_ms <median>" lines; a model that fails prints a note.
'use strict';
const path = require('path');
const fs = require('fs');
const ort = require('onnxruntime-node');

const threads = parseInt(process.env.GRAPHC_BENCH_THREADS || '2', 10);
const dir = process.argv[2];
const only = process.argv[3] === '--only' ? process.argv[4].split(',') : null;
const models = [
  { name: 'gelu', reps: 9, inputs: { x: [16 << 20], w: [16 << 20], b: [16 << 20] } },
  { name: 'mlp', reps: 31, inputs: { x: [64, 1024] } },
  { name: 'encoder', reps: 31, inputs: { x: [8, 128, 256] } },
];

function tensor(shape) {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = ((i * 7919) % 193 - 96) / 96;
  return new ort.Tensor('float32', data, shape);
}

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function bench(model) {
  const file = path.join(dir, model.name + '.onnx');
  if (!fs.existsSync(file)) {
    console.log(`KV ort_${model.name}_note no-model`);
    return;
  }
  const session = await ort.InferenceSession.create(file, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  const feeds = {};
  for (const [k, shape] of Object.entries(model.inputs)) feeds[k] = tensor(shape);
  for (let i = 0; i < 3; i++) await session.run(feeds);
  const times = [];
  for (let i = 0; i < model.reps; i++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  console.log(`KV ort_${model.name}_ms ${median(times).toFixed(3)}`);
  console.log(`KV ort_${model.name}_min_ms ${Math.min(...times).toFixed(3)}`);
}

(async () => {
  for (const m of models) {
    if (only && !only.includes(m.name)) continue;
    try {
      await bench(m);
    } catch (e) {
      console.log(`KV ort_${m.name}_note run-failed`);
      console.error(`ort ${m.name}: ${e.message}`);
    }
  }
})();
