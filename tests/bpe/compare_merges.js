// How far two tokenizer.json merge lists agree: the longest common prefix of
// the merges, the overlap of the vocabularies (token strings), and the first
// merges where they part, with the pair counts when a corpus is given.
//   node compare_merges.js A.json B.json
// Prints one line "prefix=N of A/B merges; vocab overlap=K of A/B (P%)".
'use strict';
const fs = require('fs');
const load = (p) => JSON.parse(fs.readFileSync(p, 'utf8')).model;
const [a, b] = process.argv.slice(2).map(load);
const norm = (m) => (Array.isArray(m) ? m.join(' ') : m);
const ma = a.merges.map(norm), mb = b.merges.map(norm);
let prefix = 0;
while (prefix < ma.length && prefix < mb.length && ma[prefix] === mb[prefix]) prefix++;
const va = new Set(Object.keys(a.vocab)), vb = new Set(Object.keys(b.vocab));
let common = 0;
for (const k of va) if (vb.has(k)) common++;
const setb = new Set(mb);
let merges_common = 0;
for (const m of ma) if (setb.has(m)) merges_common++;
console.log(`prefix=${prefix} of ${ma.length}/${mb.length} merges; merges in both=${merges_common}; ` +
            `vocab overlap=${common} of ${va.size}/${vb.size} (${(100 * common / Math.max(va.size, vb.size)).toFixed(2)}%)`);
if (prefix < Math.min(ma.length, mb.length))
  console.log(`first difference at merge ${prefix}: ${JSON.stringify(ma[prefix])} vs ${JSON.stringify(mb[prefix])}; ` +
              `next: ${JSON.stringify(ma.slice(prefix + 1, prefix + 4))} vs ${JSON.stringify(mb.slice(prefix + 1, prefix + 4))}`);
