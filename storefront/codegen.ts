import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { CodegenConfig } from '@graphql-codegen/cli';
import { transformSupergraphToPublicSchema } from '@theguild/federation-composition';
import { parse, print } from 'graphql';

// The API clients see: the committed supergraph without the federation
// machinery (join__/link__ types and directives, @inaccessible fields).
const supergraph = readFileSync(new URL('../schema/supergraph.graphql', import.meta.url), 'utf8');
const apiSchema = print(transformSupergraphToPublicSchema(parse(supergraph)));

// Types every operation in src/ against it, and writes the trusted-document
// manifest (src/gql/persisted-documents.json: sha256 hash → document text).
const config: CodegenConfig = {
  schema: apiSchema,
  // The operators' operations (deploy/operations) are trusted documents too.
  documents: ['src/**/*.{ts,tsx}', '!src/gql/**/*', '../deploy/operations/*.graphql'],
  ignoreNoDocuments: false,
  generates: {
    './src/gql/': {
      preset: 'client',
      config: {
        documentMode: 'string',
        enumsAsTypes: true,
        useTypeImports: true,
        strictScalars: true,
        scalars: { DateTime: 'string' },
      },
      presetConfig: {
        fragmentMasking: false,
        persistedDocuments: {
          mode: 'embedHashInDocument',
          // Plain hex sha256 of the document text: the id clients send as `documentId`.
          hashAlgorithm: (document: string) => createHash('sha256').update(document).digest('hex'),
        },
      },
    },
  },
};

export default config;
