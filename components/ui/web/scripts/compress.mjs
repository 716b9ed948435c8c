// Write `name.gz` beside each built text file, so the ui component can send
// compressed bytes without compressing per request; prints the sizes.
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync, constants } from "node:zlib";

const root = process.argv[2] ?? "dist";
const text = /\.(html|js|css|svg|json|txt)$/;

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else if (text.test(name)) yield path;
  }
}

let raw = 0;
let packed = 0;
for (const path of files(root)) {
  const bytes = readFileSync(path);
  const gz = gzipSync(bytes, { level: constants.Z_BEST_COMPRESSION });
  writeFileSync(`${path}.gz`, gz);
  raw += bytes.length;
  packed += gz.length;
}
console.log(`ui: ${root}: ${(raw / 1024).toFixed(1)} kB, ${(packed / 1024).toFixed(1)} kB gzipped`);
