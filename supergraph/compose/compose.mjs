#!/usr/bin/env node
// Composes the subgraph SDLs in schema/*.graphql into schema/supergraph.graphql with
// @theguild/federation-composition (the composition hive-router is built against).
//
//   node compose.mjs                    compose and write; refuses breaking changes
//   node compose.mjs --allow-breaking   ... and writes them anyway (say why in the commit)
//   node compose.mjs --check            exit 1 if the committed supergraph is stale
//   node compose.mjs --check --base REF also exit 1 if the composition breaks clients of
//                                       the supergraph committed at git REF
//
// Every operation a shipped client sends (the storefront's graphql(`...`) documents
// in storefront/src, which are also the router's trusted documents) must stay valid
// against the new supergraph, whatever the change looks like: a supergraph that breaks
// one is refused even with --allow-breaking. CLIENTS_DIR points elsewhere.
//
// List sizes for the router's cost estimate: every paginated field (an `Int` argument
// `first` and a `...Connection` result) is annotated, at composition, with
// `@listSize(slicingArguments: ["first"], sizedFields: ["edges"])` (federation v2.9),
// so the router counts the page size a query asks for (its default list size, 20 like
// the services' default page, when it asks for none). The subgraphs need not know:
// the estimate is the router's business.
//
// Subgraph routing URLs default to the local ports; SUBGRAPH_<NAME>_URL overrides one.
// Breaking changes (removed or retyped fields, removed enum values, a new required
// argument or input field, ...) are found with @graphql-inspector/core on the public
// API schemas.
import { readFileSync, writeFileSync, existsSync, readdirSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, buildSchema, validate, specifiedRules, NoUnusedFragmentsRule, Kind, visit } from "graphql";
import {
  composeServices,
  compositionHasErrors,
  createCompositionSuccessReadCacheContainer,
} from "@theguild/federation-composition";
import { diff, CriticalityLevel } from "@graphql-inspector/core";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const schemaDir = process.env.SCHEMA_DIR ?? join(root, "schema");
const supergraphPath = join(schemaDir, "supergraph.graphql");
const clientsDir = process.env.CLIENTS_DIR ?? join(root, "storefront", "src");

export const SUBGRAPHS = [
  { name: "users", port: 4001 },
  { name: "products", port: 4002 },
  { name: "orders", port: 4003 },
  { name: "payments", port: 4004 },
];

function fail(message) {
  console.error(`compose: ${message}`);
  process.exit(1);
}

function where(error) {
  const parts = [];
  const ext = error.extensions ?? {};
  if (ext.code) parts.push(ext.code);
  if (error.nodes?.length) {
    const loc = error.nodes[0].loc;
    if (loc?.source?.name) parts.push(loc.source.name);
  }
  return parts.length ? `[${parts.join(" ")}] ` : "";
}

const named = (type) => (type.kind === Kind.NAMED_TYPE ? type.name.value : named(type.type));
const string = (value) => ({ kind: Kind.STRING, value });

/** A subgraph's SDL with `@listSize` on its paginated fields (see the header). */
export function withListSizes(document) {
  return visit(document, {
    SchemaExtension(node) {
      const link = node.directives?.find((d) => d.name.value === "link");
      if (!link) return undefined;
      const args = link.arguments.map((arg) => {
        if (arg.name.value === "url" && arg.value.value?.startsWith("https://specs.apollo.dev/federation/")) {
          return { ...arg, value: string("https://specs.apollo.dev/federation/v2.9") };
        }
        if (arg.name.value === "import" && arg.value.kind === Kind.LIST) {
          return { ...arg, value: { ...arg.value, values: [...arg.value.values, string("@listSize")] } };
        }
        return arg;
      });
      return { ...node, directives: node.directives.map((d) => (d === link ? { ...link, arguments: args } : d)) };
    },
    FieldDefinition(node) {
      const first = node.arguments?.find((a) => a.name.value === "first" && named(a.type) === "Int");
      if (!first || !named(node.type).endsWith("Connection")) return undefined;
      const list = (values) => ({ kind: Kind.LIST, values: values.map(string) });
      const arg = (name, value) => ({ kind: Kind.ARGUMENT, name: { kind: Kind.NAME, value: name }, value });
      // No assumedSize: it would win over `first` (hive-router's formula).
      const listSize = {
        kind: Kind.DIRECTIVE,
        name: { kind: Kind.NAME, value: "listSize" },
        arguments: [
          arg("slicingArguments", list(["first"])),
          arg("sizedFields", list(["edges"])),
          arg("requireOneSlicingArgument", { kind: Kind.BOOLEAN, value: false }),
        ],
      };
      return { ...node, directives: [...(node.directives ?? []), listSize] };
    },
  });
}

/** Composes the subgraphs; returns the supergraph SDL or exits with every error. */
export function compose() {
  const services = SUBGRAPHS.map(({ name, port }) => {
    const file = join(schemaDir, `${name}.graphql`);
    if (!existsSync(file)) fail(`${file} is missing: run the ${name} schema test first`);
    let typeDefs;
    try {
      typeDefs = withListSizes(parse(readFileSync(file, "utf8"), { noLocation: false }));
    } catch (e) {
      fail(`subgraph ${name}: ${file} does not parse: ${e.message}`);
    }
    const envName = `SUBGRAPH_${name.toUpperCase()}_URL`;
    return { name, typeDefs, url: process.env[envName] ?? `http://127.0.0.1:${port}/graphql` };
  });
  const result = composeServices(services);
  if (compositionHasErrors(result)) {
    console.error(`compose: composition failed with ${result.errors.length} error(s):`);
    for (const error of result.errors) console.error(`  - ${where(error)}${error.message}`);
    process.exit(1);
  }
  return result.supergraphSdl.trimEnd() + "\n";
}

function publicSchema(supergraphSdl) {
  const container = createCompositionSuccessReadCacheContainer(parse(supergraphSdl));
  return buildSchema(container.publicSdl);
}

/** The GraphQL documents of the shipped clients: `graphql(\`...\`)` in their sources. */
function clientDocuments() {
  if (!existsSync(clientsDir)) return [];
  const documents = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      // gql/ is Code Generator's output, made from these very documents.
      if (entry.isDirectory() && entry.name !== "gql" && entry.name !== "node_modules") walk(path);
      else if (/\.(ts|tsx)$/.test(entry.name)) {
        for (const match of readFileSync(path, "utf8").matchAll(/graphql\(\s*`([^`]*)`\s*\)/g)) {
          documents.push({ file: path.slice(root.length + 1), text: match[1] });
        }
      }
    }
  };
  walk(clientsDir);
  return documents;
}

/** Each shipped client operation that `supergraphSdl` no longer serves, with why. */
export function brokenClientOperations(supergraphSdl) {
  const schema = publicSchema(supergraphSdl);
  const parsed = clientDocuments().map(({ file, text }) => ({ file, document: parse(text) }));
  const fragments = parsed.flatMap(({ document }) =>
    document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION),
  );
  // Operations use fragments from other files (Code Generator joins them).
  const rules = specifiedRules.filter((rule) => rule !== NoUnusedFragmentsRule);
  const broken = [];
  for (const { file, document } of parsed) {
    for (const operation of document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION)) {
      const errors = validate(schema, { kind: Kind.DOCUMENT, definitions: [operation, ...fragments] }, rules);
      for (const error of errors) {
        broken.push(`${file}: ${operation.name?.value ?? "(anonymous)"}: ${error.message}`);
      }
    }
  }
  return broken;
}

/** Exits if the supergraph breaks a shipped client operation. */
function refuseBrokenClients(supergraphSdl) {
  const broken = brokenClientOperations(supergraphSdl);
  if (!broken.length) return;
  console.error(`compose: ${broken.length} client operation(s) no longer valid against this supergraph:`);
  for (const line of broken) console.error(`  - ${line}`);
  fail("refused: change the clients first (their operations are the router's trusted documents)");
}

/** The breaking changes going from one supergraph to another. */
export async function breakingChanges(oldSupergraph, newSupergraph) {
  const changes = await diff(publicSchema(oldSupergraph), publicSchema(newSupergraph));
  return changes.filter((c) => c.criticality.level === CriticalityLevel.Breaking);
}

function report(changes, against) {
  console.error(`compose: ${changes.length} breaking change(s) against ${against}:`);
  for (const c of changes) console.error(`  - ${c.path ? c.path + ": " : ""}${c.message}`);
}

async function main(argv) {
  const check = argv.includes("--check");
  const allowBreaking = argv.includes("--allow-breaking");
  const baseIndex = argv.indexOf("--base");
  const base = baseIndex >= 0 ? argv[baseIndex + 1] : undefined;
  if (baseIndex >= 0 && !base) fail("--base needs a git ref");

  const next = compose();
  const committed = existsSync(supergraphPath) ? readFileSync(supergraphPath, "utf8") : null;
  refuseBrokenClients(next);

  if (check) {
    let failed = false;
    if (committed !== next) {
      console.error(
        "compose: schema/supergraph.graphql is stale: run `node supergraph/compose/compose.mjs` and commit it",
      );
      failed = true;
    }
    if (base) {
      let old;
      try {
        old = execFileSync("git", ["show", `${base}:schema/supergraph.graphql`], {
          cwd: root,
          encoding: "utf8",
          stdio: ["ignore", "pipe", "ignore"],
        });
      } catch {
        console.error(`compose: no supergraph at ${base}; nothing to compare against`);
      }
      if (old) {
        const changes = await breakingChanges(old, next);
        if (changes.length && !allowBreaking) {
          report(changes, base);
          failed = true;
        }
      }
    }
    if (failed) process.exit(1);
    console.log("compose: supergraph is up to date" + (base ? ` and compatible with ${base}` : ""));
    return;
  }

  if (committed) {
    const changes = await breakingChanges(committed, next);
    if (changes.length && !allowBreaking) {
      report(changes, "the committed supergraph");
      fail("not written: pass --allow-breaking if clients are prepared for this");
    }
  }
  writeFileSync(supergraphPath, next);
  console.log(`compose: wrote ${supergraphPath}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main(process.argv.slice(2));
}
