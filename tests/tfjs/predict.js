#!/usr/bin/env node
// Load a tensorflowjs-converted model (layers-model or graph-model) from a local directory with
// the pure-JS @tensorflow/tfjs (CPU backend) and print its predictions as JSON on stdout.
//
//   node predict.js MODEL_DIR INPUTS.json
//
// INPUTS.json: a list with one nested array per model input (batch dimension included).
// Output (stdout): {"tfjs": VERSION, "backend": "cpu", "format": ..., "outputs": [nested arrays]}
// No network: model.json and its weight shards are read with fs (a custom IOHandler).
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

function fileHandler(dir) {
  return {
    async load() {
      const modelJSON = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
      return tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
        const specs = [];
        const buffers = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const p of group.paths) buffers.push(fs.readFileSync(path.join(dir, p)));
        }
        const all = Buffer.concat(buffers);
        return [specs, all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength)];
      });
    },
  };
}

function asList(out) {
  if (out instanceof tf.Tensor) return [out];
  if (Array.isArray(out)) return out;
  return Object.keys(out).sort().map((k) => out[k]);  // named outputs of a graph model
}

async function main() {
  const [modelDir, inputsPath] = process.argv.slice(2);
  if (!modelDir || !inputsPath) {
    console.error('usage: node predict.js MODEL_DIR INPUTS.json');
    process.exit(2);
  }
  await tf.setBackend('cpu');
  await tf.ready();
  const format = JSON.parse(fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8')).format;
  const model = format === 'graph-model'
    ? await tf.loadGraphModel(fileHandler(modelDir))
    : await tf.loadLayersModel(fileHandler(modelDir));
  const inputs = JSON.parse(fs.readFileSync(inputsPath, 'utf8')).map((a) => tf.tensor(a, undefined, 'float32'));
  const out = model.predict(inputs.length === 1 ? inputs[0] : inputs);
  const outputs = asList(out).map((t) => t.arraySync());
  process.stdout.write(JSON.stringify({ tfjs: tf.version.tfjs, backend: tf.getBackend(), format, outputs }) + '\n');
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
