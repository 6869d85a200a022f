// Bundles src/ into one ES module: `npm ci && npm run build` (or `make frontend` at the top).
// The output is deterministic (no timestamps, no source maps), so a fresh build from the
// lockfile matches the committed bundle byte for byte (tests/test_map_element_bundle.py).
import { build } from 'esbuild';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] || join(here, '..', '..', '..', 'static', 'map-element.js');
const result = await build({
  entryPoints: [join(here, 'src', 'index.js')],
  bundle: true, format: 'esm', minify: true, write: false, legalComments: 'eof',
  target: ['es2020'], logLevel: 'warning',
});
const css = readFileSync(join(here, 'src', 'style.css'), 'utf8');
const inject = `(()=>{if(!document.getElementById('emap-style')){const s=document.createElement('style');s.id='emap-style';s.textContent=${JSON.stringify(css)};document.head.appendChild(s);}})();\n`;
writeFileSync(out, inject + result.outputFiles[0].text);
console.log(`wrote ${out}`);
