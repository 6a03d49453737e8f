// Splits documents for the training tests: every STRIDE-th document of IN goes
// to the held-out JSON Lines file, every STRIDE-th of the rest (offset by one)
// to the training set, written both as JSON Lines and as plain text (documents
// joined by "\n", the form HF's trainer reads).
//   node split_corpus.js IN.jsonl.gz STRIDE TRAIN.jsonl TRAIN.txt HELD.jsonl
'use strict';
const fs = require('fs');
const zlib = require('zlib');
const [inp, stride_s, tr_jsonl, tr_txt, held] = process.argv.slice(2);
const stride = parseInt(stride_s, 10);
let data = fs.readFileSync(inp);
if (data[0] === 0x1f && data[1] === 0x8b) data = zlib.gunzipSync(data);
const lines = data.toString('utf8').split('\n').filter((l) => l.trim() !== '');
const tr = [], ho = [];
lines.forEach((l, i) => {
  if (i % stride === 0) ho.push(l);
  else if (i % stride === 1) tr.push(l);
});
fs.writeFileSync(tr_jsonl, tr.join('\n') + '\n');
fs.writeFileSync(tr_txt, tr.map((l) => JSON.parse(l).text).join('\n') + '\n');
fs.writeFileSync(held, ho.join('\n') + '\n');
