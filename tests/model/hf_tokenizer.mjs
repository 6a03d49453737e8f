// What npm @huggingface/transformers' AutoTokenizer makes of a folder that
// `model export` wrote, loaded from that folder alone (no hub):
//   node hf_tokenizer.mjs DIR DOCS.jsonl OUT_IDS.txt CLASS EOT_TEXT EOT_ID CONTEXT
// Writes each document's ids, one document a line, space separated, as
// `bpe encode --ids` writes them, for the caller to compare. Before that it
// checks what the tokenizer says of itself: tokenizer_class CLASS, the
// end-of-text token (EOT_TEXT, id EOT_ID) as eos, bos and unk token, a
// model_max_length of CONTEXT, and that decode(encode(text)) gives every text
// back unchanged. Exit 1 on any difference, or when the folder does not load
// (a missing tokenizer_config.json, for one).
import fs from 'node:fs';
import path from 'node:path';
import { AutoTokenizer, env } from '@huggingface/transformers';

const [dir, docs, out, want_class, eot_text, eot_id_s, context_s] = process.argv.slice(2);
const eot_id = Number(eot_id_s), context = Number(context_s);
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.useBrowserCache = false;
env.useFSCache = false; // nothing written under node_modules
env.localModelPath = path.dirname(path.resolve(dir)) + '/';

let bad = 0;
const expect = (what, got, want) => {
  if (got !== want) {
    bad++;
    process.stderr.write(`${what}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}\n`);
  }
};

try {
  const tok = await AutoTokenizer.from_pretrained(path.basename(path.resolve(dir)), { local_files_only: true });
  expect('tokenizer_class', tok.config.tokenizer_class, want_class);
  // transformers.js drops "Fast": PreTrainedTokenizerFast is its PreTrainedTokenizer
  expect('class', tok.constructor.name, want_class.replace(/Fast$/, ''));
  for (const which of ['eos', 'bos', 'unk']) {
    expect(`${which}_token`, tok[`${which}_token`], eot_text);
    expect(`${which}_token_id`, tok[`${which}_token_id`], eot_id);
  }
  expect('model_max_length', tok.model_max_length, context);
  const texts = fs.readFileSync(docs, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l).text);
  const lines = [];
  for (const text of texts) {
    const ids = tok.encode(text);
    lines.push(ids.join(' '));
    const back = ids.length ? tok.decode(ids) : ''; // decode([]) throws
    expect(`decode(encode(${JSON.stringify(text).slice(0, 40)}))`, back, text);
  }
  fs.writeFileSync(out, lines.join('\n') + '\n');
  process.stdout.write(`${tok.constructor.name}: ${texts.length} texts, ${bad} problems\n`);
} catch (err) {
  process.stderr.write(`${dir}: AutoTokenizer failed: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
}
process.exit(bad ? 1 : 0);
