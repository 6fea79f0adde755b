// A small JSON Schema validator for the event schemas in docs/events/: the subset of draft 2020-12 they use
// (type, properties, required, additionalProperties, items, enum, const, pattern, format date-time,
// minLength/maxLength, minimum/maximum, uniqueItems) plus the annotations. A keyword outside the subset
// throws rather than being ignored, so a schema can never claim a constraint nothing checks. Written here
// instead of adding a validator dependency: the subset is 80 lines, and the schemas stay plain documents.
type Schema = Readonly<Record<string, unknown>>;

const ANNOTATIONS = new Set(['$schema', '$id', '$comment', 'title', 'description', 'examples']);
const CHECKED = new Set([
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'enum',
  'const',
  'pattern',
  'format',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'uniqueItems',
]);
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

const typeOf = (value: unknown): string => {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
};

const matchesType = (expected: string, value: unknown): boolean =>
  expected === typeOf(value) || (expected === 'number' && typeOf(value) === 'integer');

/** Every violation of `schema` by `value`, as `path: problem`; empty when it conforms. */
export const validate = (schema: Schema, value: unknown, path = '$'): string[] => {
  for (const keyword of Object.keys(schema)) {
    if (!ANNOTATIONS.has(keyword) && !CHECKED.has(keyword)) throw new Error(`schema at ${path} uses ${keyword}, which this validator does not check`);
  }
  const problems: string[] = [];
  const types = schema.type === undefined ? [] : ([] as string[]).concat(schema.type as string | string[]);
  if (types.length > 0 && !types.some((t) => matchesType(t, value))) return [`${path}: expected ${types.join('|')}, got ${typeOf(value)}`];
  if (schema.const !== undefined && JSON.stringify(schema.const) !== JSON.stringify(value))
    problems.push(`${path}: must be ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value)))
    problems.push(`${path}: not one of the enum`);
  if (typeof value === 'string') {
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value))
      problems.push(`${path}: does not match ${schema.pattern}`);
    if (schema.format === 'date-time' && (!DATE_TIME.test(value) || Number.isNaN(Date.parse(value)))) problems.push(`${path}: not a date-time`);
    if (typeof schema.minLength === 'number' && [...value].length < schema.minLength) problems.push(`${path}: shorter than ${schema.minLength}`);
    if (typeof schema.maxLength === 'number' && [...value].length > schema.maxLength) problems.push(`${path}: longer than ${schema.maxLength}`);
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) problems.push(`${path}: below ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) problems.push(`${path}: above ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.uniqueItems === true && new Set(value.map((v) => JSON.stringify(v))).size !== value.length) problems.push(`${path}: items not unique`);
    if (schema.items) for (const [i, item] of value.entries()) problems.push(...validate(schema.items as Schema, item, `${path}[${i}]`));
  }
  if (typeOf(value) === 'object') {
    const object = value as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const name of (schema.required ?? []) as string[]) if (!(name in object)) problems.push(`${path}: ${name} is required`);
    for (const [name, v] of Object.entries(object)) {
      const own = properties[name];
      if (own) problems.push(...validate(own, v, `${path}.${name}`));
      else if (schema.additionalProperties === false) problems.push(`${path}: ${name} is not allowed`);
      else if (typeof schema.additionalProperties === 'object')
        problems.push(...validate(schema.additionalProperties as Schema, v, `${path}.${name}`));
    }
  }
  return problems;
};
