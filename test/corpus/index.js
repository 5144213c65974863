// `node --test test/corpus/` runs this folder as a module, which resolves to this file; `npm test`
// finds corpus.test.ts by its name. Either way the same tests run once.
import './corpus.test.ts';
