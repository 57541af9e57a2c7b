// Builds dist/ (the compiled runtime that package.json's exports point at).
// npm runs `prepare` on `npm ci` / `npm install` in this folder, before
// `npm pack` and `npm publish`, and when another project installs this
// folder (symlinked, or packed with --install-links). dist/ is not in git,
// so without this a folder install of a fresh checkout has no dist/ and
// every import of "tagwire" fails to type-check.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = join(dirname(fileURLToPath(import.meta.url)), "..");
// Only the TypeScript pinned in devDependencies: another one further up the
// directory tree could emit different declarations.
const tsc = join(dir, "node_modules", "typescript", "bin", "tsc");
if (!existsSync(tsc)) {
  // A folder install or `npm pack` of a fresh checkout: npm does not install
  // a folder dependency's devDependencies, so say what to run.
  console.error(
    `tagwire: building dist/ needs TypeScript, a devDependency of ${dir}, which is not installed.\n` +
      `Run \`npm ci\` in that folder once (npm ci --prefix "${dir}"), then run this command again.`,
  );
  process.exit(1);
}
const result = spawnSync(process.execPath, [tsc, "-p", dir], { stdio: "inherit" });
process.exit(result.status ?? 1);
