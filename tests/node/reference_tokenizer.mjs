// Reference tokenizer for the C++ WordPiece tests: the tokenizer of the npm
// package @huggingface/transformers, an independent implementation.
// Usage: node reference_tokenizer.mjs MODEL_PARENT_DIR MODEL_NAME CORPUS.json
// Prints a JSON array with the ids of each string of the corpus.
import { readFileSync } from 'node:fs';
import { AutoTokenizer, env } from '@huggingface/transformers';

const [parent, name, corpusPath] = process.argv.slice(2);
env.allowRemoteModels = false;
env.localModelPath = parent.endsWith('/') ? parent : parent + '/';
const tokenizer = await AutoTokenizer.from_pretrained(name);
const corpus = JSON.parse(readFileSync(corpusPath, 'utf8'));
console.log(JSON.stringify(corpus.map((text) => tokenizer.encode(text))));
