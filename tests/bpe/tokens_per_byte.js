// Tokens per byte of held-out documents under each tokenizer.json, encoded by
// npm `tokenizers` (so both sides are measured by the same encoder; bytes a
// vocabulary lacks are dropped by HF and so cost no token).
//   node tokens_per_byte.js HELD.jsonl A.json [B.json ...]
// Prints "FILE tokens bytes tokens/byte" a line, then for two files the
// relative difference "diff=+0.123%" (B against A).
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require(path.resolve('node_modules/tokenizers'));
async function main() {
  const [held, ...toks] = process.argv.slice(2);
  const texts = fs.readFileSync(held, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l).text);
  const bytes = texts.reduce((a, t) => a + Buffer.byteLength(t), 0);
  const rates = [];
  for (const p of toks) {
    const encs = await Tokenizer.fromFile(p).encodeBatch(texts, { addSpecialTokens: false });
    const n = encs.reduce((a, e) => a + e.getIds().length, 0);
    rates.push(n / bytes);
    console.log(`${p} ${n} ${bytes} ${(n / bytes).toFixed(5)}`);
  }
  if (rates.length === 2) console.log(`diff=${((rates[1] / rates[0] - 1) * 100).toFixed(3)}%`);
}
main().catch((e) => { console.error(String(e)); process.exit(1); });
