/**
 * Module hooks (registered by compiled-loader.mjs) that run the checkout's .ts files as the
 * JavaScript tsc compiled from them (compiled.mjs): a module keeps its own .ts URL, so
 * import.meta.url, import.meta.dirname and relative paths are those of the source, and only its
 * code comes from the compiled tree. A relative '.js' import from a .ts file names the .ts file
 * beside it, as in the sources (NodeNext resolution).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

let root = '';
let out = '';
let rootUrl = '';

export function initialize(data) {
  root = data.root;
  out = data.out;
  rootUrl = pathToFileURL(root + path.sep).href;
}

export async function resolve(specifier, context, next) {
  const parent = context.parentURL;
  if (parent?.endsWith('.ts') && parent.startsWith(rootUrl) && (specifier.startsWith('./') || specifier.startsWith('../')) && specifier.endsWith('.js')) {
    const ts = new URL(`${specifier.slice(0, -3)}.ts`, parent);
    if (fs.existsSync(fileURLToPath(ts))) return { url: ts.href, format: 'module', shortCircuit: true };
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (url.startsWith(rootUrl) && url.endsWith('.ts') && !url.includes('/node_modules/')) {
    const file = fileURLToPath(url);
    const js = path.join(out, path.relative(root, file)).replace(/\.ts$/, '.js');
    let source;
    try {
      source = fs.readFileSync(js, 'utf8');
    } catch {
      throw new Error(`${file} has no compiled JavaScript in ${out}: is it outside what tsconfig.json includes?`);
    }
    // The source map sits beside the compiled file, not beside the .ts URL the module keeps; Node
    // takes a path relative to the module (an absolute file: URL it ignores).
    source = source.replace(/\/\/# sourceMappingURL=(\S+)\s*$/, (_m, map) => `//# sourceMappingURL=${path.relative(path.dirname(file), path.join(path.dirname(js), map)).split(path.sep).join('/')}\n`);
    return { format: 'module', source, shortCircuit: true };
  }
  return next(url, context);
}
