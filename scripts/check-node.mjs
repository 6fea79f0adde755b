// Every npm script must run on the Lambda runtime's major (nodejs22.x). With `npm ci --ignore-scripts`
// the pinned `node` devDependency has no binary and npm silently falls back to the system Node.
// Plain JavaScript on purpose: an older Node cannot load a .ts file, and this check must speak on it.
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  console.error(
    `Node ${process.versions.node} is running, but this project needs Node 22 (the Lambda runtime's major).\n` +
      'Run `npm ci` without --ignore-scripts so the pinned node@22 devDependency installs its binary.',
  );
  process.exit(1);
}
