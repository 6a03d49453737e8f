// The ARPAbet class rules, checked on a trained tokenizer.json and on ids it
// produced: no token holds parts of two words (a token is " "? + word
// characters, or only other characters), and no token splits a vowel from its
// stress digit (in a token every vowel letter is followed by a digit and every
// digit follows a vowel; a lone vowel or digit is never emitted).
//   node check_arpabet.js tokenizer.json IDS.txt
// Exit 0 when every token passes; else prints the first offenders, exit 1.
'use strict';
const fs = require('fs');
const [tok_path, ids_path] = process.argv.slice(2);
const model = JSON.parse(fs.readFileSync(tok_path, 'utf8'));
const specials = new Set((model.added_tokens || []).map((t) => t.id));
// GPT-2's byte-level stand-ins back to bytes (latin1 text here: ARPAbet is ASCII).
const b2u = {};
let n = 0;
for (let b = 0; b < 256; b++) {
  const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  b2u[String.fromCharCode(printable ? b : 256 + n++)] = String.fromCharCode(b);
}
const id2tok = [];
for (const [k, id] of Object.entries(model.model.vocab)) id2tok[id] = [...k].map((c) => b2u[c] ?? '?').join('');
const VOWEL = /[OQACWYERBIJNVUK]/;
function bad(t) {
  if (!/^ ?[A-Za-z012]+$/.test(t) && !/^[^A-Za-z012]+$/.test(t)) return 'crosses a word';
  for (let i = 0; i < t.length; i++) {
    if (VOWEL.test(t[i]) && !/[012]/.test(t[i + 1] || '')) return 'vowel without its digit';
    if (/[012]/.test(t[i]) && !VOWEL.test(t[i - 1] || '')) return 'digit without its vowel';
  }
  return null;
}
const problems = [];
let checked = 0;
id2tok.forEach((t, id) => {
  if (t === undefined || specials.has(id) || t.length < 2) return;
  checked++;
  const why = bad(t);
  if (why) problems.push(`vocab ${id} ${JSON.stringify(t)}: ${why}`);
});
let emitted = 0;
for (const line of fs.readFileSync(ids_path, 'utf8').split('\n')) {
  for (const s of line.split(' ')) {
    if (!s) continue;
    const id = +s;
    emitted++;
    if (specials.has(id)) continue;
    const why = bad(id2tok[id]);
    if (why) problems.push(`emitted ${id} ${JSON.stringify(id2tok[id])}: ${why}`);
  }
}
console.log(`checked ${checked} vocabulary tokens and ${emitted} emitted tokens: ${problems.length} problems`);
for (const p of problems.slice(0, 10)) console.log(p);
process.exit(problems.length ? 1 : 0);
