/**
 * Writes docs/configuration.md from the comments of `EnvSchema`, so the reference of every
 * setting is the schema's own; `--check` only says whether the file is current. EnvSchema in
 * src/config/env.ts joins the settings of each area (`...ProviderSettings.shape`), and each
 * area's file declares its own: the spreads are followed through env.ts's imports.
 *
 *   node --experimental-strip-types --no-warnings scripts/docs/configuration.ts [--check]
 *
 * The files are read as text with the TypeScript compiler API, not imported: the document
 * depends on what the schema says, not on the worker's code loading.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

export const ENV_PATH = fileURLToPath(new URL("../../src/config/env.ts", import.meta.url));
export const DOC_PATH = fileURLToPath(new URL("../../docs/configuration.md", import.meta.url));
const COMMAND = "node --experimental-strip-types --no-warnings scripts/docs/configuration.ts";

/** One variable of EnvSchema, as its source declares it. */
export type Variable = {
  name: string;
  /** The JSDoc comment above it, as one paragraph; "" when it has none. */
  description: string;
  /** What zod accepts, in words: `integer, 0 to 10`, `URL`, `one of: a, b`. */
  type: string;
  /** The value of `.default(...)`, as a string; undefined when there is none. */
  defaultValue: string | undefined;
};

/**
 * Every variable of `EnvSchema = z.object({...})` in env.ts's text (`source`, read from `path`), in the order
 * declared; a spread `...Settings.shape` stands for the variables of `Settings = z.object({...})`, in env.ts or
 * in the file it is imported from (read from disk beside `path`).
 */
export function variablesOf(source: string, path = ENV_PATH): Variable[] {
  return settingsOf(source, path, "EnvSchema");
}

function settingsOf(source: string, path: string, name: string): Variable[] {
  const file = ts.createSourceFile(path, source, ts.ScriptTarget.Latest, true);
  const where = `${basename(path)}: ${name}`;
  const schema = findInitializer(file, name);
  const shape = schema && ts.isCallExpression(schema) ? schema.arguments[0] : undefined;
  if (shape === undefined || !ts.isObjectLiteralExpression(shape)) throw new Error(`${where}: no \`${name} = z.object({...})\` found`);
  return shape.properties.flatMap((property) => {
    if (ts.isSpreadAssignment(property)) {
      const spread = property.expression;
      if (!ts.isPropertyAccessExpression(spread) || spread.name.text !== "shape" || !ts.isIdentifier(spread.expression)) {
        throw new Error(`${where}: spreads ${spread.getText(file)}, not \`...Settings.shape\``);
      }
      const settings = spread.expression.text;
      const from = importedFrom(file, settings);
      if (from === undefined) return settingsOf(source, path, settings);
      const settingsPath = resolve(dirname(path), from);
      return settingsOf(readFileSync(settingsPath, "utf8"), settingsPath, settings);
    }
    if (!ts.isPropertyAssignment(property)) throw new Error(`${where} holds a ${ts.SyntaxKind[property.kind]}, not a property`);
    const chain = chainOf(property.initializer);
    const defaultCall = chain.find((link) => link.method === "default");
    return [
      {
        name: property.name.getText(file),
        description: jsDocOf(property, source),
        type: describeType(chain, file),
        defaultValue: defaultCall?.args[0] === undefined ? undefined : literalOf(defaultCall.args[0], file),
      },
    ];
  });
}

/** The module `name` is imported from (`import { name } from "./x.ts"`), or undefined when the file does not import it. */
function importedFrom(file: ts.SourceFile, name: string): string | undefined {
  for (const statement of file.statements) {
    if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) continue;
    const bindings = statement.importClause?.namedBindings;
    if (bindings !== undefined && ts.isNamedImports(bindings) && bindings.elements.some((element) => element.name.text === name)) {
      return statement.moduleSpecifier.text;
    }
  }
  return undefined;
}

/** The settings a bad value stops the router for (env.ts's `VITAL` set); every other bad one is ignored. */
export function vitalOf(source: string): string[] {
  const file = ts.createSourceFile("env.ts", source, ts.ScriptTarget.Latest, true);
  const vital = findInitializer(file, "VITAL");
  const list = vital && ts.isNewExpression(vital) ? vital.arguments?.[0] : undefined;
  if (list === undefined || !ts.isArrayLiteralExpression(list)) throw new Error("env.ts: no `VITAL = new Set([...])` found");
  return list.elements.map((element) => literalOf(element, file));
}

/** docs/configuration.md for this env.ts text. */
export function renderConfiguration(source: string): string {
  const variables = variablesOf(source);
  const code = (text: string): string => `\`${text}\``;
  const anchor = (name: string): string => `#${name.toLowerCase()}`;
  const lines = [
    "# Configuration",
    "",
    `<!-- Generated from the comments of EnvSchema (src/config/env.ts and the settings files it joins) by scripts/docs/configuration.ts. Edit those comments, then run: ${COMMAND} -->`,
    "",
    "Every setting is an environment variable, and every one is optional: with none set, `/v1/route`, `/v1/models`",
    "and `/health` work and completions answer 503 naming the key to set.",
    "",
    "- **Locally**, copy [`.dev.vars.example`](../.dev.vars.example) to `.dev.vars` (git-ignored); `npm run dev` starts",
    "  local stand-ins for Redis and Postgres and sets their variables, `AUDIT_HMAC_KEY` and `ADMIN_API_KEY` itself.",
    "  A line such as `GROQ_API_KEY=` means not set.",
    "- **In production**, keys and other secrets go in with `npx wrangler secret put NAME --env production`; the rest",
    "  are the environment's `[vars]` in [`wrangler.toml`](../wrangler.toml). After changing `[vars]`, `npm run types`",
    "  regenerates their types, which `npm run typecheck` holds against this schema. See [operations](operations.md).",
    "- **A malformed setting** (a bad number, an `ADMIN_API_KEY` under 16 characters) is ignored for its default (or",
    "  off) and reported by `npm run dev` at start and in the admin `/health`; only what depends on it is refused.",
    `  A bad value of one of these stops the router instead (every request answers 500): ${vitalOf(source).map(code).join(", ")}.`,
    "",
    "| variable | default | accepts |",
    "|---|---|---|",
    ...variables.map((v) => `| [${code(v.name)}](${anchor(v.name)}) | ${v.defaultValue === undefined ? "unset" : code(v.defaultValue)} | ${v.type} |`),
    "",
  ];
  for (const v of variables) {
    lines.push(`### ${v.name}`, "");
    const accepts = `${v.type.charAt(0).toUpperCase()}${v.type.slice(1)}`;
    lines.push(`${accepts}; ${v.defaultValue === undefined ? "unset by default" : `default ${code(v.defaultValue)}`}.`, "");
    if (v.description !== "") lines.push(v.description, "");
  }
  return `${lines.join("\n").trimEnd()}\n`;
}

function findInitializer(file: ts.SourceFile, name: string): ts.Expression | undefined {
  let found: ts.Expression | undefined;
  const visit = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && node.name.getText(file) === name) found = node.initializer;
    else if (found === undefined) ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

type Link = { method: string; args: readonly ts.Expression[] };

/** `z.coerce.number().int().min(0)` → number(), int(), min(0); `jsonSetting(x).optional()` → jsonSetting(x), optional(). */
function chainOf(expression: ts.Expression): Link[] {
  const links: Link[] = [];
  let node: ts.Expression = expression;
  while (ts.isCallExpression(node)) {
    const callee = node.expression;
    if (ts.isPropertyAccessExpression(callee)) {
      links.push({ method: callee.name.text, args: node.arguments });
      node = callee.expression;
    } else {
      links.push({ method: callee.getText(), args: node.arguments });
      break;
    }
  }
  return links.reverse();
}

function describeType(chain: Link[], file: ts.SourceFile): string {
  const [base, ...modifiers] = chain;
  const parts: string[] = [];
  let kind = "a value";
  switch (base?.method) {
    case "url":
      kind = "a URL";
      break;
    case "string":
      kind = "a string";
      break;
    case "number":
      kind = "a number";
      break;
    case "jsonSetting":
      kind = "JSON";
      break;
    case "enum": {
      const options = base.args[0];
      const names = options && ts.isArrayLiteralExpression(options) ? options.elements.map((element) => `\`${literalOf(element, file)}\``) : [];
      kind = `one of ${names.join(", ")}`;
      break;
    }
  }
  let min: string | undefined;
  let max: string | undefined;
  for (const { method, args } of modifiers) {
    const value = args[0] === undefined ? undefined : literalOf(args[0], file);
    if (method === "int") kind = "an integer";
    else if (method === "positive") min = "above 0";
    else if (method === "min") min = kind === "a string" ? `${value}+ characters` : `from ${value}`;
    else if (method === "max") max = `to ${value}`;
    else if (method === "regex" && args[0] !== undefined) parts.push(`matching \`${args[0].getText(file)}\``);
  }
  if (min !== undefined) parts.unshift(max === undefined ? min : `${min} ${max}`);
  else if (max !== undefined) parts.unshift(`up ${max}`);
  return [kind, ...parts].join(", ");
}

/** A literal's value, reckoned when it is arithmetic (`4 * 1024 * 1024`, `60_000`); the source text otherwise. */
function literalOf(expression: ts.Expression, file: ts.SourceFile): string {
  const number = numberOf(expression);
  if (number !== undefined) return String(number);
  if (ts.isStringLiteral(expression)) return expression.text;
  return expression.getText(file);
}

function numberOf(expression: ts.Expression): number | undefined {
  if (ts.isNumericLiteral(expression)) return Number(expression.text);
  if (ts.isPrefixUnaryExpression(expression) && expression.operator === ts.SyntaxKind.MinusToken) {
    const operand = numberOf(expression.operand);
    return operand === undefined ? undefined : -operand;
  }
  if (ts.isParenthesizedExpression(expression)) return numberOf(expression.expression);
  if (ts.isBinaryExpression(expression)) {
    const left = numberOf(expression.left);
    const right = numberOf(expression.right);
    if (left === undefined || right === undefined) return undefined;
    if (expression.operatorToken.kind === ts.SyntaxKind.AsteriskToken) return left * right;
    if (expression.operatorToken.kind === ts.SyntaxKind.PlusToken) return left + right;
  }
  return undefined;
}

/** The last `/** ... *\/` comment right above a property, its lines joined into one paragraph. */
function jsDocOf(node: ts.Node, source: string): string {
  const comments = ts.getLeadingCommentRanges(source, node.getFullStart()) ?? [];
  const doc = comments.map((range) => source.slice(range.pos, range.end)).findLast((text) => text.startsWith("/**"));
  if (doc === undefined) return "";
  return doc
    .slice(3, -2)
    .split("\n")
    .map((line) => line.replace(/^\s*\*?\s?/, "").trim())
    .filter((line) => line !== "")
    .join(" ");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const fresh = renderConfiguration(readFileSync(ENV_PATH, "utf8"));
  if (process.argv.includes("--check")) {
    let current = "";
    try {
      current = readFileSync(DOC_PATH, "utf8");
    } catch {
      // A missing file is as stale as a wrong one.
    }
    if (current !== fresh) {
      console.error(`docs/configuration.md is not what EnvSchema's comments say; run: ${COMMAND}`);
      process.exit(1);
    }
    console.log("docs/configuration.md is current");
  } else {
    writeFileSync(DOC_PATH, fresh);
    console.log(`wrote docs/configuration.md: ${variablesOf(readFileSync(ENV_PATH, "utf8")).length} variables`);
  }
}
