// The layout's rules (docs/architecture.md §2), read from the code itself: every import of lib/ and functions/
// (static, re-exports and dynamic import()), every folder's size, every exported name. A change that breaks a
// rule fails here with the file, the line and the rule, instead of in review.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
// One file per item kind (docs/architecture.md §2) made lib/store grow with the capabilities; 20 holds what there is today.
const MAX_FILES_PER_FOLDER = 20;
/** Capability folders: the store serves them and never reaches back into them. */
const CAPABILITIES = ['intake', 'tokens', 'authorization', 'release-test', 'stream', 'events', 'admin', 'fleet', 'on-behalf'];
/** Every function module exports these two by convention (docs/style.md §3). */
const SHARED_NAMES = new Set(['createHandler', 'handler']);

interface Import {
  readonly file: string;
  readonly line: number;
  /** A repository path (lib/store/keys.ts) for relative imports, else the package name as written. */
  readonly target: string;
  /** A file of this repository (a relative import), not a package. */
  readonly local: boolean;
}

const sourceFiles = (dir: string): string[] =>
  readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });

/** The code without comments, lines kept in place (a comment's text is blanked, its newlines stay). */
const withoutComments = (text: string): string => text.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' ')).replace(/^(\s*)\/\/.*$/gm, '$1');

const SPECIFIERS = [
  /\bimport\s+(?:type\s+)?[^'"]*?\bfrom\s*['"]([^'"]+)['"]/g,
  /\bexport\s+(?:type\s+)?(?:\*|\{[^}]*\})\s*from\s*['"]([^'"]+)['"]/g,
  /\bimport\s*['"]([^'"]+)['"]/g,
  /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
];

const importsOf = (file: string, text: string): Import[] => {
  const code = withoutComments(text);
  return SPECIFIERS.flatMap((pattern) =>
    [...code.matchAll(pattern)].map((m) => {
      const specifier = m[1] ?? '';
      const target = specifier.startsWith('.') ? relative(ROOT, resolve(ROOT, dirname(file), specifier)) : specifier;
      const local = specifier.startsWith('.');
      return { file, line: code.slice(0, m.index).split('\n').length, target, local };
    }),
  );
};

const under = (path: string, folder: string): boolean => path === folder || path.startsWith(`${folder}/`);
const isAws = (target: string): boolean => target.startsWith('@aws-sdk/') || target === 'aws-lambda';

/** Each rule: which importing files it governs, and what they must not import. */
interface Rule {
  readonly name: string;
  /** The importing files the rule governs. */
  readonly from: (file: string) => boolean;
  readonly forbids: (i: Import) => boolean;
}

const RULES: readonly Rule[] = [
  { name: 'lib never imports functions', from: (f) => under(f, 'lib'), forbids: (i) => i.local && under(i.target, 'functions') },
  {
    name: 'lib/kernel imports nothing else of the project',
    from: (f) => under(f, 'lib/kernel'),
    forbids: (i) => i.local && !under(i.target, 'lib/kernel'),
  },
  { name: 'lib/wechat never imports AWS packages', from: (f) => under(f, 'lib/wechat'), forbids: (i) => !i.local && isAws(i.target) },
  { name: 'lib/wechat never imports lib/store', from: (f) => under(f, 'lib/wechat'), forbids: (i) => i.local && under(i.target, 'lib/store') },
  {
    name: 'lib/store never imports the capability folders',
    from: (f) => under(f, 'lib/store'),
    forbids: (i) => i.local && CAPABILITIES.some((c) => under(i.target, `lib/${c}`)),
  },
  { name: 'lib/intake never imports lib/tokens', from: (f) => under(f, 'lib/intake'), forbids: (i) => i.local && under(i.target, 'lib/tokens') },
  {
    name: 'lib/intake never imports the WeChat client',
    from: (f) => under(f, 'lib/intake'),
    forbids: (i) => i.local && i.target === 'lib/wechat/client.ts',
  },
];

const FILES = [...sourceFiles('lib'), ...sourceFiles('functions')];
const TEXTS = new Map(FILES.map((file) => [file, readFileSync(join(ROOT, file), 'utf8')]));

/** Every broken rule, as `file:line imports target (rule)`. */
const violations = (files: ReadonlyMap<string, string>): string[] =>
  [...files].flatMap(([file, text]) =>
    importsOf(file, text).flatMap((i) =>
      RULES.filter((rule) => rule.from(i.file) && rule.forbids(i)).map((rule) => `${i.file}:${i.line} imports ${i.target} (${rule.name})`),
    ),
  );

describe('architecture: the import rules of lib/ and functions/', () => {
  it('finds the imports of every kind it checks', () => {
    // Prepare
    const sample = [
      "import { a } from './a.ts';",
      "import type { B } from '../store/b.ts';",
      "export { c } from '@aws-sdk/client-dynamodb';",
      "const { SSMClient } = await import('@aws-sdk/client-ssm');",
      "// import { d } from '../../functions/x.ts';",
    ].join('\n');
    // Act
    const found = importsOf('lib/wechat/sample.ts', sample).map((i) => `${i.line} ${i.target}`);
    // Assess
    assert.deepEqual(found.sort(), ['1 lib/wechat/a.ts', '2 lib/store/b.ts', '3 @aws-sdk/client-dynamodb', '4 @aws-sdk/client-ssm'].sort());
    assert.ok(FILES.length > 50, `${FILES.length} files read`);
  });

  it('flags a file that breaks each rule', () => {
    // Prepare: one offending import per rule.
    const offenders = new Map([
      ['lib/store/x.ts', "import { f } from '../../functions/token/handler.ts';\nimport { t } from '../tokens/component-token.ts';"],
      ['lib/kernel/x.ts', "import type { Deps } from '../runtime/deps.ts';"],
      ['lib/wechat/x.ts', "import { GetCommand } from '@aws-sdk/lib-dynamodb';\nconst k = await import('../store/keys.ts');"],
      ['lib/intake/x.ts', "import { createWeChatClient } from '../wechat/client.ts';\nimport { g } from '../tokens/errors.ts';"],
    ]);
    // Act
    const found = violations(offenders).map((v) => v.replace(/^.* \((.*)\)$/, '$1'));
    // Assess
    assert.deepEqual(new Set(found), new Set(RULES.map((r) => r.name)));
  });

  it('holds for every file of lib/ and functions/', () => {
    assert.deepEqual(violations(TEXTS), []);
  });

  it(`keeps every folder of lib/ to at most ${MAX_FILES_PER_FOLDER} files`, () => {
    const counts = new Map<string, number>();
    for (const file of FILES.filter((f) => under(f, 'lib'))) counts.set(dirname(file), (counts.get(dirname(file)) ?? 0) + 1);
    const crowded = [...counts].filter(([, n]) => n > MAX_FILES_PER_FOLDER).map(([folder, n]) => `${folder}: ${n} files`);
    assert.deepEqual(crowded, []);
  });

  it('gives every exported name of lib/ and functions/ one home (createHandler and handler aside)', () => {
    const homes = new Map<string, string[]>();
    for (const [file, text] of TEXTS) {
      const code = withoutComments(text);
      const declared = [
        ...code.matchAll(
          /^export\s+(?:declare\s+)?(?:async\s+)?(?:abstract\s+)?(?:const|let|function\*?|class|interface|type|enum)\s+([A-Za-z0-9_$]+)/gm,
        ),
      ];
      const listed = [...code.matchAll(/^export\s+(?:type\s+)?\{([^}]*)\}/gm)].flatMap((m) =>
        (m[1] ?? '').split(',').map(
          (n) =>
            n
              .trim()
              .split(/\s+as\s+/)
              .pop() ?? '',
        ),
      );
      for (const name of [...declared.map((m) => m[1] ?? ''), ...listed].filter((n) => n && !SHARED_NAMES.has(n))) {
        homes.set(name, [...(homes.get(name) ?? []), file]);
      }
    }
    const collisions = [...homes].filter(([, files]) => files.length > 1).map(([name, files]) => `${name}: ${files.join(', ')}`);
    assert.deepEqual(collisions, []);
  });
});
