// The hard cases of test_parity.sh: for ENCODING, the cases of gpt-tokenizer's
// data/TestPlans.txt (their expected ids checked against npm tiktoken here too)
// plus emoji, CJK, long runs of spaces, digits and letters, mixed line ends,
// contractions, empty documents. Writes the documents as JSON Lines and
// tiktoken's ids, one document a line.
//   node hard_cases.js ENCODING OUT_DOCS.jsonl OUT_IDS.txt
'use strict';
const fs = require('fs');
const path = require('path');
const { get_encoding } = require(path.resolve('node_modules/tiktoken'));

const [enc_name, out_docs, out_ids] = process.argv.slice(2);
const enc = get_encoding(enc_name);
const texts = [];
const plans = fs.readFileSync('node_modules/gpt-tokenizer/data/TestPlans.txt', 'utf8').split('\n');
let bad = 0;
for (let i = 0; i < plans.length; i++) {
  if (plans[i] !== 'EncodingName: ' + enc_name) continue;
  const text = plans[i + 1].replace(/^Sample: /, '');
  const want = plans[i + 2].replace(/^Encoded: /, '');
  const got = JSON.stringify(Array.from(enc.encode_ordinary(text))).replace(/,/g, ', ');
  if (got !== want) { bad++; process.stderr.write(`TestPlans disagrees with tiktoken on ${JSON.stringify(text)}\n`); }
  texts.push(text);
}
const extra = [
  '', ' ', '\n', '\r\n', 'a', '🌍', '👩‍👩‍👧‍👦 family 🏳️‍🌈 flags 🇫🇷🇯🇵', '😀😃😄😁😆😅😂🤣',
  '中文字符测试，这是一个句子。', 'こんにちは世界、カタカナ', '한국어 텍스트입니다', 'Ünïcödé ñ ß ẞ ﬁ Ⅻ ①②③',
  ' '.repeat(1), ' '.repeat(2), ' '.repeat(17), ' '.repeat(1000), ' '.repeat(5000) + 'x',
  '\t'.repeat(300) + 'tab', '\n'.repeat(500), ' \n'.repeat(200), '1'.repeat(5000), '12345678901234567890',
  '3.14159265358979323846264338327950288419716939937510', 'a'.repeat(3000), 'ab'.repeat(1500),
  '!'.repeat(2000), "I'm you're he'll we've she'd it's THEY'RE Don'T", "'s's's 'S 'T", 'hello   world  \n\n  x',
  'line1\r\nline2\rline3\n', 'x\u00a0y\u2003z\u3000w', 'mixed123abc456 !@#$%^&*() _+-=', 'https://example.com/a/b?c=d&e=f',
  '<|endoftext|> is plain text here', 'tail spaces   ', '   lead spaces', 'e\u0301 combining  a\u0308',
  '\u{10FFFF}\u{E000}\u{1F600}', 'ZWJ\u200dZWNJ\u200c', '\u0000\u0001\u001f control', 'Ａｂｃ１２３ fullwidth',
];
for (const t of extra) texts.push(t);
fs.writeFileSync(out_docs, texts.map((t) => JSON.stringify({ text: t })).join('\n') + '\n');
fs.writeFileSync(out_ids, texts.map((t) => Array.from(enc.encode_ordinary(t)).join(' ')).join('\n') + '\n');
enc.free();
process.exit(bad ? 1 : 0);
