// Exit 0 when two JSON Lines files hold the same "text" members in the same
// order (other members ignored): decode(encode(x)) == x on the text.
//   node same_texts.js A.jsonl B.jsonl
'use strict';
const fs = require('fs');
const read = (p) => fs.readFileSync(p, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l).text);
const [a, b] = process.argv.slice(2).map(read);
if (a.length !== b.length) { console.error(`${a.length} documents vs ${b.length}`); process.exit(1); }
for (let i = 0; i < a.length; i++)
  if (a[i] !== b[i]) { console.error(`document ${i + 1} differs`); process.exit(1); }
