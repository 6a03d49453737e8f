#!/usr/bin/env node
// Checks a corpus built by corpora/build.sh:
//
//   node corpora/check.js corpora/en.jsonl.gz [more.jsonl.gz ...]
//
// Every line must be strict UTF-8 and a JSON object whose keys are exactly
// "text", "source", "id" in that order, with a non-empty text without NUL;
// ids must be unique, and sources must come in the documented order.
// Prints documents and bytes per source; exits 1 on the first problem.
'use strict';

const fs = require('fs');
const zlib = require('zlib');

const ORDER = ['kjv', 'jargon', 'devil', 'fortunes', 'nlp-corpus', 'brown', 'spamassassin-ham'];
const utf8 = new TextDecoder('utf-8', { fatal: true });

function check(file) {
  const fail = (line, msg) => {
    process.stderr.write(`${file}:${line}: ${msg}\n`);
    process.exit(1);
  };
  let buf = fs.readFileSync(file);
  if (file.endsWith('.gz')) buf = zlib.gunzipSync(buf);
  if (buf.length === 0 || buf[buf.length - 1] !== 0x0a) fail(0, 'empty, or no newline at the end');
  const ids = new Set();
  const per = new Map();
  let lastRank = 0;
  let lastRepeat = 1;
  let lineNo = 0;
  let start = 0;
  while (start < buf.length) {
    const end = buf.indexOf(0x0a, start);
    const bytes = buf.subarray(start, end);
    start = end + 1;
    lineNo++;
    let s;
    try {
      s = utf8.decode(bytes);
    } catch (e) {
      fail(lineNo, 'not valid UTF-8');
    }
    let o;
    try {
      o = JSON.parse(s);
    } catch (e) {
      fail(lineNo, `not JSON: ${e.message}`);
    }
    if (o === null || typeof o !== 'object' || Array.isArray(o)) fail(lineNo, 'not a JSON object');
    const keys = Object.keys(o).join(',');
    if (keys !== 'text,source,id') fail(lineNo, `keys are ${keys}, expected text,source,id`);
    if (typeof o.text !== 'string' || o.text.trim() === '') fail(lineNo, 'text is not a non-empty string');
    if (o.text.includes('\0')) fail(lineNo, 'text contains NUL');
    if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(o.text)) fail(lineNo, 'text contains a lone surrogate');
    const rank = ORDER.indexOf(o.source);
    if (rank < 0) fail(lineNo, `unknown source ${JSON.stringify(o.source)}`);
    if (typeof o.id !== 'string' || !o.id.startsWith(`${o.source}:`)) fail(lineNo, `bad id ${JSON.stringify(o.id)}`);
    const m = /#r(\d+)$/.exec(o.id);
    const repeat = m ? Number(m[1]) : 1;
    if (repeat < lastRepeat) fail(lineNo, `repeat ${repeat} after repeat ${lastRepeat}`);
    if (repeat > lastRepeat) lastRank = 0;
    if (rank < lastRank) fail(lineNo, `source ${o.source} out of order`);
    lastRank = rank;
    lastRepeat = repeat;
    if (ids.has(o.id)) fail(lineNo, `duplicate id ${o.id}`);
    ids.add(o.id);
    const p = per.get(o.source) || { docs: 0, text: 0, line: 0 };
    p.docs++;
    p.text += Buffer.byteLength(o.text);
    p.line += bytes.length + 1;
    per.set(o.source, p);
  }
  console.log(`${file}: ${lineNo} documents, ${buf.length} bytes of JSON Lines, OK`);
  for (const src of ORDER) {
    const p = per.get(src);
    if (!p) fail(0, `no documents from ${src}`);
    console.log(`  ${src.padEnd(18)}${String(p.docs).padStart(9)} docs${String(p.text).padStart(12)} text bytes${String(p.line).padStart(12)} jsonl bytes`);
  }
}

const files = process.argv.slice(2);
if (!files.length) {
  process.stderr.write('usage: node corpora/check.js FILE.jsonl[.gz]...\n');
  process.exit(2);
}
files.forEach(check);
