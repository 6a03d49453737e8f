// Trains Hugging Face's BPE (npm `tokenizers`) on text files, for the
// comparison in test_train.sh and bench/bpe:
//   node hf_train.js OUT.json FILE...
// npm's train(files) takes no options: BpeTrainer's defaults (vocab 30000,
// min frequency 0, no specials, only characters seen). Files are read line by
// line, each line keeping its newline. The pre-tokenizer is ByteLevel without
// its prefix space (our default) and with its GPT-2 regex.
'use strict';
const path = require('path');
const { Tokenizer, BPE, byteLevelPreTokenizer } = require(path.resolve('node_modules/tokenizers'));
const [out, ...files] = process.argv.slice(2);
const tok = new Tokenizer(BPE.empty());
tok.setPreTokenizer(byteLevelPreTokenizer(false, true));
const t0 = process.hrtime.bigint();
tok.train(files);
const s = Number(process.hrtime.bigint() - t0) / 1e9;
tok.save(out, false);
process.stderr.write(`tokenizers train: ${s.toFixed(2)} s, vocab ${tok.getVocabSize(true)}\n`);
process.stdout.write(`${s}\n`);
