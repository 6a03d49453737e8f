#!/usr/bin/env node
// Checks the links of every Markdown file under ROOT (node_modules, build and
// dot-folders left out): a relative link must name a file or folder inside
// ROOT, and a #anchor (in the same file or another .md) must be a heading
// there, by GitHub's rule for heading ids. Links with a scheme (https:,
// mailto:) are not followed; links inside code (fenced blocks and `spans`)
// are not links, but a code span that is a path to a .md file (`docs/x.md`)
// must name one, from the file's folder or from ROOT. Prints FILE:LINE: what is wrong, one a line, and exits 1 when
// anything is; the last line counts files and links.
//   node tests/docs/check_links.js [ROOT]      (default: the current folder)
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.resolve(process.argv[2] || '.');
const SKIP = new Set(['node_modules', 'build']);

function markdownFiles(dir, out) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (e.name.startsWith('.') || SKIP.has(e.name)) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) markdownFiles(p, out);
    else if (e.isFile() && e.name.endsWith('.md')) out.push(p);
  }
  return out;
}

// The lines outside fenced code blocks, inline code spans blanked (same
// length, so nothing inside them reads as a link), numbered from 1.
function proseLines(text) {
  const out = [];
  let fence = null;
  text.split('\n').forEach((line, i) => {
    const m = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (fence) {
      if (m && m[1][0] === fence[0] && m[1].length >= fence.length) fence = null;
      return;
    }
    if (m) { fence = m[1]; return; }
    if (/^( {4}|\t)/.test(line) && (out.length === 0 || out[out.length - 1].blank)) {
      // an indented code block starts after a blank line; keep it out
      out.push({ n: i + 1, text: '', blank: true, code: true });
      return;
    }
    if (out.length && out[out.length - 1].code && /^( {4}|\t)/.test(line)) {
      out.push({ n: i + 1, text: '', blank: true, code: true });
      return;
    }
    const spans = [...line.matchAll(/(`+)([^`]*?)\1/g)].map((m) => m[2]);
    out.push({ n: i + 1, text: line.replace(/(`+)[^`]*?\1/g, (s) => ' '.repeat(s.length)), spans, blank: !line.trim(), code: false });
  });
  return out;
}

// GitHub's heading id (github-slugger): the heading's text as rendered (code
// spans keep their text, links their label, emphasis marks go), lower case,
// every character that is not a letter, mark, digit, '_', '-' or space
// dropped, each space a '-'; a repeated id gets -1, -2, ...
function slug(heading) {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`/g, '')
    .replace(/<[^>]+>/g, '')
    .replace(/(\*\*|\*)/g, '')
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
}

const anchorCache = new Map();
function anchors(file) {
  if (anchorCache.has(file)) return anchorCache.get(file);
  const ids = new Set();
  const seen = new Map();
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n');
  for (const l of proseLines(text)) {
    const h = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(lines[l.n - 1]);
    if (h && !l.code) {
      const base = slug(h[1]);
      const k = seen.get(base) || 0;
      ids.add(k ? `${base}-${k}` : base);
      seen.set(base, k + 1);
    }
    for (const m of l.text.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) ids.add(m[1]);
  }
  anchorCache.set(file, ids);
  return ids;
}

const problems = [];
let nLinks = 0;
const files = markdownFiles(root, []);
for (const file of files) {
  const rel = path.relative(root, file);
  for (const l of proseLines(fs.readFileSync(file, 'utf8'))) {
    const targets = [];
    // [text](target "title") and ![alt](src); the text may hold `code`, blanked above
    for (const m of l.text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g)) targets.push(m[1]);
    // [label]: target
    const def = /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(\s|$)/.exec(l.text);
    if (def) targets.push(def[1]);
    for (const span of l.spans || []) {
      if (!/^[\w.\/-]+\.md$/.test(span)) continue;
      nLinks++;
      const there = [path.resolve(path.dirname(file), span), path.resolve(root, span)];
      if (!there.some((p) => !path.relative(root, p).startsWith('..') && fs.existsSync(p))) {
        problems.push(`${rel}:${l.n}: \`${span}\` names no file of the project`);
      }
    }
    for (const t of targets) {
      nLinks++;
      if (/^[a-z][a-z0-9+.-]*:/i.test(t)) continue; // https:, mailto:, ...
      const hash = t.indexOf('#');
      const pathPart = decodeURI(hash < 0 ? t : t.slice(0, hash));
      const anchor = hash < 0 ? null : decodeURIComponent(t.slice(hash + 1));
      let target = file;
      if (pathPart) {
        target = path.resolve(path.dirname(file), pathPart);
        const inside = path.relative(root, target);
        if (inside.startsWith('..') || path.isAbsolute(inside)) {
          problems.push(`${rel}:${l.n}: link '${t}' leaves the project (${pathPart})`);
          continue;
        }
        if (!fs.existsSync(target)) {
          problems.push(`${rel}:${l.n}: link '${t}': no file ${inside}`);
          continue;
        }
      }
      if (anchor !== null && target.endsWith('.md') && fs.statSync(target).isFile() && !anchors(target).has(anchor)) {
        problems.push(`${rel}:${l.n}: link '${t}': no heading with id '${anchor}' in ${path.relative(root, target)}`);
      }
    }
  }
}
for (const p of problems) console.log(p);
console.log(`check_links: ${files.length} Markdown files, ${nLinks} links, ${problems.length} broken`);
process.exit(problems.length ? 1 : 0);
