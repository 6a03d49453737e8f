// Writes what npm tiktoken makes of documents, for test_parity.sh and the bench:
//   node tiktoken_ids.js ENCODING STRIDE IN.jsonl[.gz] OUT_DOCS.jsonl OUT_IDS.txt
// Every STRIDE-th document of IN (1: all) is copied to OUT_DOCS as is, and its
// ids (encode_ordinary: special-token text is plain text) go to OUT_IDS, one
// document a line, space separated, as `bpe encode --ids` writes them.
'use strict';
const fs = require('fs');
const zlib = require('zlib');
const path = require('path');
const { get_encoding } = require(path.resolve('node_modules/tiktoken'));

const [enc_name, stride_s, inp, out_docs, out_ids] = process.argv.slice(2);
const stride = parseInt(stride_s, 10);
let data = fs.readFileSync(inp);
if (data[0] === 0x1f && data[1] === 0x8b) data = zlib.gunzipSync(data);
const lines = data.toString('utf8').split('\n').filter((l) => l.trim() !== '');
const enc = get_encoding(enc_name);
const docs = [], ids = [];
let t = 0, bytes = 0;
for (let i = 0; i < lines.length; i += stride) {
  const text = JSON.parse(lines[i]).text;
  const t0 = process.hrtime.bigint();
  const got = enc.encode_ordinary(text);
  t += Number(process.hrtime.bigint() - t0) / 1e9;
  bytes += Buffer.byteLength(text);
  docs.push(lines[i]);
  ids.push(Array.from(got).join(' '));
}
enc.free();
fs.writeFileSync(out_docs, docs.join('\n') + '\n');
fs.writeFileSync(out_ids, ids.join('\n') + '\n');
process.stderr.write(`tiktoken ${enc_name}: ${docs.length} docs, ${(bytes / 1e6).toFixed(1)} MB, ` +
                     `${t.toFixed(2)} s encoding, ${(bytes / 1e6 / t).toFixed(2)} MB/s\n`);
