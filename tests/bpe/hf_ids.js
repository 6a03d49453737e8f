// What npm `tokenizers` (Hugging Face) makes of documents with a tokenizer.json:
//   node hf_ids.js tokenizer.json IN.jsonl OUT_IDS.txt
// One document a line, ids space separated, as `bpe encode --ids` writes them.
// Exit 1 when the file does not load.
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require(path.resolve('node_modules/tokenizers'));

async function main() {
  const [tok_path, inp, out] = process.argv.slice(2);
  const tok = Tokenizer.fromFile(tok_path);
  const lines = fs.readFileSync(inp, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const texts = lines.map((l) => JSON.parse(l).text);
  const t0 = process.hrtime.bigint();
  const encs = await tok.encodeBatch(texts, { addSpecialTokens: false });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  fs.writeFileSync(out, encs.map((e) => e.getIds().join(' ')).join('\n') + '\n');
  const bytes = texts.reduce((a, t) => a + Buffer.byteLength(t), 0);
  process.stderr.write(`tokenizers: ${texts.length} docs, ${(bytes / 1e6).toFixed(1)} MB, ${s.toFixed(2)} s, ` +
                       `${(bytes / 1e6 / s).toFixed(2)} MB/s (encodeBatch)\n`);
}
main().catch((e) => { process.stderr.write(String(e) + '\n'); process.exit(1); });
