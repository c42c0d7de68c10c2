// keras_oracle.js — the Keras oracle of tests/import/check_keras_tfjs.py: Keras models built with
// TensorFlow.js' tfjs-layers (Keras' layers and semantics in JavaScript, CPU backend), given seeded
// random weights, run on a seeded random batch. For each model it writes OUTDIR/<name>.json:
//   {"name", "config": model.toJSON() (the Keras model config, tfjs-layers' variant),
//    "weights": [{"layer", "name" ("kernel"), "shape", "data"}], "input": {"shape", "data"},
//    "output": {"shape", "data"}}
// with every tensor as base64 of little-endian float32 (exact). Models: the seed project's four
// (MNIST baseline and EffNet, steering baseline and EffNet, as models/seed-*.yaml describe them)
// a functional layer-coverage graph and a Sequential one of the pointwise activations and
// same-padded average pooling (sigmoid, tanh, elu, ReLU max_value 6, AveragePooling2D same).
// usage: node keras_oracle.js OUTDIR [--only NAME]   (NODE_PATH: keras-oracle/node_modules)
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const tfl = require('@tensorflow/tfjs-layers');

const L = tfl.layers;

// mulberry32 + Box-Muller: a small seeded generator, so every run writes the same files.
function rng(seed) {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const n = () => Math.sqrt(-2 * Math.log(u() + 1e-12)) * Math.cos(2 * Math.PI * u());
  return { u, n };
}

// Random weights keeping activations of order 1 through deep stacks: kernels N(0, 2/fan_in),
// biases N(0, 0.1); BatchNormalization gamma U(0.5, 1.5), beta N(0, 0.2), moving mean N(0, 0.3),
// moving variance U(0.5, 2) (non-trivial statistics, so a mix-up of the four shows).
function randomize(model, r) {
  for (const layer of model.layers) {
    const vals = layer.weights.map((w) => {
      const short = w.originalName.split('/').pop();
      const size = w.shape.reduce((a, b) => a * b, 1);
      const fanIn = w.shape.length > 1 ? size / w.shape[w.shape.length - 1] : 1;
      const dw = short === 'depthwise_kernel' ? w.shape[0] * w.shape[1] : fanIn;
      const f = new Float32Array(size);
      for (let i = 0; i < size; i++) {
        if (short === 'gamma') f[i] = 0.5 + r.u();
        else if (short === 'moving_variance') f[i] = 0.5 + 1.5 * r.u();
        else if (short === 'beta') f[i] = 0.2 * r.n();
        else if (short === 'moving_mean') f[i] = 0.3 * r.n();
        else if (short === 'bias') f[i] = 0.1 * r.n();
        else f[i] = r.n() * Math.sqrt(2 / dw);
      }
      return tf.tensor(f, w.shape);
    });
    if (vals.length) layer.setWeights(vals);
  }
}

const b64 = (f) => Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('base64');

// ---- the seed's models (models/seed-*.yaml; Keras 2 code of the seed project) ----

function act(kind, name) {
  return kind === 'leaky' ? L.leakyReLU({ name, alpha: 0.3 }) : L.activation({ name, activation: 'relu' });
}

// EffNet block (Freeman et al.): 1x1 conv, depthwise 1x3, max-pool 2x1, depthwise 3x1, 2x1 conv
// with stride (1, 2), each convolution without bias and followed by the activation; then dropout.
function effnetBlock(m, name, mid, out, kind) {
  const a = (s) => act(kind, `${name}_${s}_act`);
  m.add(L.conv2d({ name: `${name}_conv1`, filters: mid, kernelSize: 1, useBias: false }));
  m.add(a('conv1'));
  m.add(L.depthwiseConv2d({ name: `${name}_dw1`, kernelSize: [1, 3], padding: 'same', useBias: false }));
  m.add(a('dw1'));
  m.add(L.maxPooling2d({ name: `${name}_pool`, poolSize: [2, 1], strides: [2, 1] }));
  m.add(L.depthwiseConv2d({ name: `${name}_dw2`, kernelSize: [3, 1], padding: 'same', useBias: false }));
  m.add(a('dw2'));
  m.add(L.conv2d({ name: `${name}_conv2`, filters: out, kernelSize: [2, 1], strides: [1, 2], padding: 'same',
    useBias: false }));
  m.add(a('conv2'));
  m.add(L.dropout({ name: `${name}_drop`, rate: 0.25 }));
}

function seedMnistBaseline() {
  const m = tfl.sequential({ name: 'seed_mnist_baseline' });
  m.add(L.conv2d({ name: 'conv1', inputShape: [28, 28, 1], filters: 32, kernelSize: 3, activation: 'relu' }));
  const rates = [0.2, 0.25, 0.25, 0.25];
  [32, 64, 64, 128].forEach((f, i) => {
    if (i) m.add(L.conv2d({ name: `conv${i + 1}`, filters: f, kernelSize: 3, padding: 'same', activation: 'relu' }));
    m.add(L.maxPooling2d({ name: `pool${i + 1}`, poolSize: 2 }));
    m.add(L.dropout({ name: `drop${i + 1}`, rate: rates[i] }));
  });
  return mnistHead(m, 'drop5');
}

// Both MNIST models end so: flatten, dense 128 relu, batch norm, dropout, dense 10 softmax.
function mnistHead(m, drop) {
  m.add(L.flatten({ name: 'flatten' }));
  m.add(L.dense({ name: 'dense1', units: 128, activation: 'relu' }));
  m.add(L.batchNormalization({ name: 'bn1' }));
  m.add(L.dropout({ name: drop, rate: 0.25 }));
  m.add(L.dense({ name: 'dense2', units: 10, activation: 'softmax' }));
  return [m, [28, 28, 1]];
}

function seedMnistEffnet() {
  const m = tfl.sequential({ name: 'seed_mnist_effnet' });
  m.add(L.inputLayer({ name: 'input_1', inputShape: [28, 28, 1] }));
  [[16, 32], [32, 64], [32, 64], [64, 128]].forEach(([mid, out], i) => effnetBlock(m, `b${i + 1}`, mid, out, 'relu'));
  return mnistHead(m, 'drop1');
}

function seedSteeringBaseline() {
  const m = tfl.sequential({ name: 'seed_steering_baseline' });
  [[64, 5], [64, 3], [64, 3], [128, 3], [128, 3]].forEach(([f, k], i) => {
    m.add(L.conv2d(Object.assign({ name: `conv${i + 1}`, filters: f, kernelSize: k, padding: 'same',
      activation: 'relu' }, i ? {} : { inputShape: [128, 128, 3] })));
    m.add(L.dropout({ name: `drop${i + 1}`, rate: 0.2 }));
    m.add(L.maxPooling2d({ name: `pool${i + 1}`, poolSize: 2 }));
  });
  m.add(L.flatten({ name: 'flatten' }));
  [256, 128, 64].forEach((u, i) => {
    m.add(L.dense({ name: `dense${i + 1}`, units: u, activation: 'relu' }));
    m.add(L.dropout({ name: `drop${i + 6}`, rate: 0.5 }));
  });
  m.add(L.dense({ name: 'dense4', units: 1 }));
  return [m, [128, 128, 3]];
}

function seedSteeringEffnet() {
  const m = tfl.sequential({ name: 'seed_steering_effnet' });
  m.add(L.inputLayer({ name: 'input_1', inputShape: [128, 128, 3] }));
  [[32, 64], [32, 64], [32, 64], [64, 128], [64, 128]].forEach(([mid, out], i) =>
    effnetBlock(m, `b${i + 1}`, mid, out, 'leaky'));
  m.add(L.flatten({ name: 'flatten' }));
  [256, 128, 64].forEach((u, i) => {
    m.add(L.dense({ name: `dense${i + 1}`, units: u }));
    m.add(L.leakyReLU({ name: `dense${i + 1}_act`, alpha: 0.3 }));
    m.add(L.batchNormalization({ name: `bn${i + 1}` }));
    m.add(L.dropout({ name: `drop${i + 1}`, rate: 0.5 }));
  });
  m.add(L.dense({ name: 'dense4', units: 1 }));
  return [m, [128, 128, 3]];
}

// ---- layer coverage: a functional graph (shapes in the comments, per sample) ----

function coverage() {
  const x = tfl.input({ name: 'in', shape: [18, 16, 3] });
  const crop = L.cropping2D({ name: 'crop', cropping: [[1, 1], [0, 2]] }).apply(x);              // 16x14x3
  const c1 = L.conv2d({ name: 'c1', filters: 8, kernelSize: 3, strides: 2, padding: 'same',
    activation: 'relu' }).apply(crop);                                                           // 8x7x8
  const bn1 = L.batchNormalization({ name: 'bn1', epsilon: 1e-3 }).apply(c1);
  const zp = L.zeroPadding2d({ name: 'zp', padding: [[1, 1], [1, 1]] }).apply(bn1);              // 10x9x8
  const c2 = L.conv2d({ name: 'c2', filters: 8, kernelSize: 3, padding: 'valid' }).apply(zp);   // 8x7x8
  const lr = L.leakyReLU({ name: 'lr', alpha: 0.2 }).apply(c2);
  const add = L.add({ name: 'add' }).apply([bn1, lr]);
  const sep = L.separableConv2d({ name: 'sep', filters: 12, kernelSize: 3, padding: 'same', depthMultiplier: 2,
    activation: 'relu' }).apply(add);                                                            // 8x7x12
  const mp = L.maxPooling2d({ name: 'mp', poolSize: 3, strides: 2, padding: 'same' }).apply(sep); // 4x4x12
  const dw = L.depthwiseConv2d({ name: 'dw', kernelSize: 3, strides: 2, padding: 'same' }).apply(add); // 4x4x8
  const cat = L.concatenate({ name: 'cat', axis: -1 }).apply([mp, dw]);                         // 4x4x20
  const re = L.reLU({ name: 're' }).apply(cat);
  const ap = L.averagePooling2d({ name: 'ap', poolSize: 2, strides: 1, padding: 'valid' }).apply(re); // 3x3x20
  const c3 = L.conv2d({ name: 'c3', filters: 6, kernelSize: 2, strides: [1, 2], padding: 'valid' }).apply(ap); // 2x1x6
  const fl = L.flatten({ name: 'fl' }).apply(c3);                                                // 12
  const dr = L.dropout({ name: 'dr', rate: 0.3 }).apply(fl);
  const d1 = L.dense({ name: 'd1', units: 7 }).apply(dr);
  const bn2 = L.batchNormalization({ name: 'bn2' }).apply(d1);
  const gap = L.globalAveragePooling2d({ name: 'gap' }).apply(re);                               // 20
  const d2 = L.dense({ name: 'd2', units: 7, activation: 'relu' }).apply(gap);
  const add2 = L.add({ name: 'add2' }).apply([bn2, d2]);
  const out = L.activation({ name: 'out', activation: 'softmax' }).apply(add2);
  return [tfl.model({ name: 'coverage', inputs: x, outputs: out }), [18, 16, 3]];
}

// The pointwise activations (sigmoid, tanh, elu, ReLU(maxValue) = clip) and 'same' average pooling.
function activations() {
  const m = tfl.sequential({ name: 'activations' });
  m.add(L.conv2d({ name: 'c1', inputShape: [9, 8, 3], filters: 6, kernelSize: 3, padding: 'same',
    activation: 'sigmoid' }));
  m.add(L.activation({ name: 'th', activation: 'tanh' }));
  m.add(L.conv2d({ name: 'c2', filters: 6, kernelSize: 1, activation: 'elu' }));
  m.add(L.reLU({ name: 'r6', maxValue: 6 }));
  m.add(L.averagePooling2d({ name: 'ap', poolSize: 3, strides: 2, padding: 'same' }));
  m.add(L.flatten({ name: 'fl' }));
  m.add(L.dense({ name: 'd', units: 3 }));
  return [m, [9, 8, 3]];
}

const MODELS = {
  'seed-mnist-baseline': seedMnistBaseline, 'seed-mnist-effnet': seedMnistEffnet,
  'seed-steering-baseline': seedSteeringBaseline, 'seed-steering-effnet': seedSteeringEffnet,
  coverage, activations,
};

async function main() {
  const argv = process.argv.slice(2);
  const outdir = argv[0];
  if (!outdir) throw new Error('usage: node keras_oracle.js OUTDIR [--only NAME]');
  const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : null;
  await tf.setBackend('cpu');
  fs.mkdirSync(outdir, { recursive: true });
  let seed = 16;
  for (const [name, build] of Object.entries(MODELS)) {
    seed++;
    if (only && name !== only) continue;
    const [model, hwc] = build();
    const r = rng(seed);
    randomize(model, r);
    const n = 2, size = n * hwc[0] * hwc[1] * hwc[2];
    const xin = new Float32Array(size);
    for (let i = 0; i < size; i++) xin[i] = 2 * r.u() - 1;
    const y = model.predict(tf.tensor(xin, [n, ...hwc]));
    const weights = [];
    for (const layer of model.layers)
      for (const w of layer.weights)
        weights.push({ layer: layer.name, name: w.originalName.split('/').pop(), shape: w.shape,
          data: b64(w.read().dataSync()) });
    const doc = { name, config: model.toJSON(null, false), weights, input: { shape: [n, ...hwc], data: b64(xin) },
      output: { shape: y.shape, data: b64(y.dataSync()) } };
    fs.writeFileSync(path.join(outdir, `${name}.json`), JSON.stringify(doc));
  }
}

main().catch((e) => { console.error(`keras_oracle.js: ${e.message}`); process.exit(1); });
