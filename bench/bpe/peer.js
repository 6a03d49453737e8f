// One peer encoding documents, timed inside the process (node's start-up and
// the file read are not counted):
//   node peer.js PEER ENCODING IN.jsonl OUT_IDS RUNS
// PEER: tiktoken (encode_ordinary), gpt-tokenizer (encode, specials as text),
// hf (npm tokenizers, one document at a time: one thread), hf-batch
// (encodeBatch: every core). For hf/hf-batch ENCODING is a tokenizer.json.
// Writes the ids of the first run (one document a line) and prints the median
// seconds of RUNS runs and the bytes: "seconds bytes".
'use strict';
const fs = require('fs');
const path = require('path');
const [peer, enc_name, inp, out_ids, runs_s] = process.argv.slice(2);
const runs = parseInt(runs_s, 10);
const texts = fs.readFileSync(inp, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l).text);
const bytes = texts.reduce((a, t) => a + Buffer.byteLength(t), 0);

async function encoder() {
  if (peer === 'tiktoken') {
    const enc = require(path.resolve('node_modules/tiktoken')).get_encoding(enc_name);
    return async () => texts.map((t) => enc.encode_ordinary(t));
  }
  if (peer === 'gpt-tokenizer') {
    const enc = require(path.resolve('node_modules/gpt-tokenizer/cjs/encoding/' + enc_name + '.js'));
    const opts = { disallowedSpecial: new Set() };
    return async () => texts.map((t) => enc.encode(t, opts));
  }
  const { Tokenizer } = require(path.resolve('node_modules/tokenizers'));
  const tok = Tokenizer.fromFile(enc_name);
  if (peer === 'hf') {
    return async () => {
      const out = [];
      for (const t of texts) out.push((await tok.encode(t, null, { addSpecialTokens: false })).getIds());
      return out;
    };
  }
  return async () => (await tok.encodeBatch(texts, { addSpecialTokens: false })).map((e) => e.getIds());
}

async function main() {
  const run = await encoder();
  const times = [];
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    const ids = await run();
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    if (r === 0) fs.writeFileSync(out_ids, ids.map((x) => Array.from(x).join(' ')).join('\n') + '\n');
  }
  times.sort((a, b) => a - b);
  console.log(`${times[Math.floor(times.length / 2)]} ${bytes}`);
}
main().catch((e) => { console.error(String(e)); process.exit(1); });
